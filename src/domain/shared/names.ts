// Resource names (AIP-122). Requests are validated against the contract's
// patterns before handlers run, so parsing here only splits.
export const projectName = (key: string) => `projects/${key}`;
export const userName = (uid: string) => `users/${uid}`;
export const memberName = (projectKey: string, userUid: string) =>
  `projects/${projectKey}/members/${userUid}`;
export const labelName = (projectKey: string, labelKey: string) =>
  `projects/${projectKey}/labels/${labelKey}`;
export const issueName = (projectKey: string, number: bigint | string) =>
  `projects/${projectKey}/issues/${number}`;
export const commentName = (projectKey: string, number: bigint | string, uid: string) =>
  `projects/${projectKey}/issues/${number}/comments/${uid}`;

export const relationName = (projectKey: string, number: bigint | string, uid: string) =>
  `projects/${projectKey}/issues/${number}/relations/${uid}`;

function part(name: string, index: number): string {
  return name.split("/")[index] ?? "";
}

/** `projects/CORE/...` -> `CORE` */
export const projectKeyOf = (name: string) => part(name, 1);
/** `projects/CORE/issues/42/...` -> `42` (as text: issue numbers are int8) */
export const issueNumberOf = (name: string) => part(name, 3);
/** The last segment: a label key, member uid or comment uid. */
export const lastSegmentOf = (name: string) => part(name, name.split("/").length - 1);
/** `users/{uid}` -> uid */
export const userUidOf = (name: string) => part(name, 1);

/** The parent of a read across every project the caller can read (AIP-159). */
export const EVERY_PROJECT = "projects/-";

/** `users/me`, the alias of the caller (AIP-122) wherever a request takes a user's name, is `users/{uid}`. */
export const resolveUserName = (name: string, caller: { userUid: string }) =>
  name === "users/me" ? userName(caller.userUid) : name;
