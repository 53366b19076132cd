import type pg from "pg";
import type { Logger } from "pino";
import { newClient } from "../../db/hosts.js";
import { ACCESS_CHANGES_CHANNEL, type AccessChange, parseAccessChange } from "../shared/access.js";
import { ISSUE_EVENTS_CHANNEL } from "../shared/issue-events.js";
import { WEBHOOK_DELIVERIES_CHANNEL } from "../webhooks/webhook-store.js";

/** Access changes remembered, to tell watchers whom each concerned; a forgotten one costs a re-check. */
const ACCESS_CHANGES_KEPT = 10_000;
/** A watcher this many access changes behind re-checks rather than looking each one up. */
const ACCESS_CHANGES_SCANNED = 64;

/** A stream waiting for its project to change. */
export interface Watcher {
  userUid: string;
  /** The project's version() the watcher last read events at. */
  seen: number;
  /** The project's access revision the watcher's access was last checked at. */
  accessChecked: number;
}

/**
 * Wakes watchers when a project's issue events are committed, by any server
 * process: one LISTEN connection per process fans PostgreSQL's notifications
 * out to the streams of this process. A notification only says "look again";
 * watchers read the events themselves, so a missed or doubled notification
 * can delay an event (until the next heartbeat) but never lose or repeat one.
 *
 * Changes of access (announceAccessChange) arrive on a second channel, in
 * commit order with the events, and wake only the streams of the member they
 * concern (all of the project's for a project-wide one). The bus remembers
 * whom each concerned, so the other streams need not ask the database when
 * their next read shows the project's access revision moved.
 *
 * A third channel says webhook deliveries were queued; it wakes this
 * process's delivery worker (onDeliveriesQueued), which polls as well.
 */
export class IssueEventBus {
  /** Who waits for each project's next change. */
  readonly #waiters = new Map<string, Set<{ userUid: string; wake: () => void }>>();
  readonly #versions = new Map<string, number>();
  /** The newest access revision announced per project. */
  readonly #accessRevisions = new Map<string, number>();
  /** Whom each announced access change concerns (a user uid or "*"), by `${projectUid} ${revision}`. */
  readonly #accessChanges = new Map<string, string>();
  /** Told when webhook deliveries are queued (the delivery worker). */
  readonly #deliveryListeners = new Set<() => void>();
  #client: pg.Client | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = newClient(this.databaseUrl);
    client.on("notification", (message) => {
      if (message.channel === ISSUE_EVENTS_CHANNEL && message.payload) this.#wake(message.payload);
      if (message.channel === ACCESS_CHANGES_CHANNEL) {
        const change = parseAccessChange(message.payload ?? "");
        if (change) this.#accessChanged(change);
      }
      if (message.channel === WEBHOOK_DELIVERIES_CHANNEL) this.#deliveriesQueued();
    });
    client.on("error", (error) => {
      this.logger.warn({ err: error }, "issue event listener lost its connection; reconnecting");
      this.#reconnect(client);
    });
    client.on("end", () => this.#reconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${ISSUE_EVENTS_CHANNEL}`);
      await client.query(`LISTEN ${ACCESS_CHANGES_CHANNEL}`);
      await client.query(`LISTEN ${WEBHOOK_DELIVERIES_CHANNEL}`);
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    this.#client = client;
    // Anything committed while no one listened must be looked for.
    this.#wakeAll();
    this.#deliveriesQueued();
  }

  /** Calls `listener` whenever webhook deliveries may have been queued, by any process; returns the unsubscribe. */
  onDeliveriesQueued(listener: () => void): () => void {
    this.#deliveryListeners.add(listener);
    return () => this.#deliveryListeners.delete(listener);
  }

  #deliveriesQueued() {
    for (const listener of [...this.#deliveryListeners]) listener();
  }

  #reconnect(client: pg.Client) {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#retryStart();
  }

  /** Tries to listen again in a second, and again every second until it works (or close()). */
  #retryStart() {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) this.start().catch(() => this.#retryStart());
    }, 1_000);
  }

  /** A counter that changes whenever the project may have new events. */
  version(projectUid: string): number {
    return this.#versions.get(projectUid) ?? 0;
  }

  /** The newest access revision of the project announced to this process. */
  accessRevision(projectUid: string): number {
    return this.#accessRevisions.get(projectUid) ?? 0;
  }

  /**
   * Whether a change of access to the project after revision `after`, up to
   * `upTo`, may concern `userUid`: false only when this process heard of
   * every one of them and each named someone else.
   */
  mayConcern(projectUid: string, userUid: string, after: number, upTo: number): boolean {
    if (upTo - after > ACCESS_CHANGES_SCANNED) return true;
    for (let revision = after + 1; revision <= upTo; revision++) {
      const concerns = this.#accessChanges.get(`${projectUid} ${revision}`);
      if (concerns === undefined || concerns === "*" || concerns === userUid) return true;
    }
    return false;
  }

  #wake(projectUid: string) {
    this.#versions.set(projectUid, this.version(projectUid) + 1);
    for (const waiter of [...(this.#waiters.get(projectUid) ?? [])]) waiter.wake();
  }

  #wakeAll() {
    for (const projectUid of this.#versions.keys()) this.#wake(projectUid);
  }

  #accessChanged({ projectUid, revision, userUid }: AccessChange) {
    this.#accessChanges.set(`${projectUid} ${revision}`, userUid);
    if (this.#accessChanges.size > ACCESS_CHANGES_KEPT) {
      const oldest = this.#accessChanges.keys().next();
      if (!oldest.done) this.#accessChanges.delete(oldest.value);
    }
    if (revision > this.accessRevision(projectUid)) this.#accessRevisions.set(projectUid, revision);
    for (const waiter of [...(this.#waiters.get(projectUid) ?? [])]) {
      if (userUid === "*" || waiter.userUid === userUid) waiter.wake();
    }
  }

  /**
   * Resolves true when the project's version moves past `watcher.seen` or a
   * change of access that may concern the watcher is announced past
   * `watcher.accessChecked`; false when `timeoutMs` passes or `signal`
   * aborts; whichever comes first.
   */
  waitForChange(
    projectUid: string,
    watcher: Watcher,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    const { userUid, seen, accessChecked } = watcher;
    if (
      this.version(projectUid) !== seen ||
      this.mayConcern(projectUid, userUid, accessChecked, this.accessRevision(projectUid))
    ) {
      return Promise.resolve(true);
    }
    if (!this.#versions.has(projectUid)) this.#versions.set(projectUid, seen);
    // A plain callback per waiter: a commit wakes every watcher of the
    // project, so this is paid a thousand times over with a thousand watchers.
    return new Promise<boolean>((resolve) => {
      const waiters = this.#waiters.get(projectUid) ?? new Set();
      this.#waiters.set(projectUid, waiters);
      const done = (changed: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", aborted);
        waiters.delete(waiter);
        if (waiters.size === 0 && this.#waiters.get(projectUid) === waiters) this.#waiters.delete(projectUid);
        resolve(changed);
      };
      const aborted = () => done(false);
      const waiter = { userUid, wake: () => done(true) };
      const timer = setTimeout(aborted, timeoutMs);
      signal.addEventListener("abort", aborted, { once: true });
      waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#client?.end().catch(() => {});
  }
}
