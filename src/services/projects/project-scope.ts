import type { Scope } from "../unit-of-work.js";

/** A change of the project itself: admins only, deleted or not, at the caller's etag. */
export const projectScope = (name: string, etag: string): Scope<undefined> => ({
  resource: name,
  role: "admin",
  allowDeletedProject: true,
  etag,
});
