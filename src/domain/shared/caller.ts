/** The authenticated person making a request, as a user of the tracker. */
export interface Caller {
  userUid: string;
  subject: string;
  /** When the request's token stops being accepted (ms since the epoch); a call that outlives it ends then. */
  tokenExpiresAt: number;
}
