import type { RawBuilder } from "kysely";
import { DomainError } from "../errors.js";

// Every mutable row has a `revision`, bumped by each change; its etag is the
// revision as an opaque string (AIP-154).

export const etagOf = (revision: number) => String(revision);

/** An empty etag means "whatever the current version"; a stale one is ABORTED. */
export function assertFresh(etag: string, revision: number, name: string): void {
  if (etag !== "" && etag !== etagOf(revision)) {
    throw new DomainError(
      "aborted",
      "ETAG_MISMATCH",
      // The caller's etag is not echoed: it is their input, of any length.
      `${name} changed since it was read (now etag ${etagOf(revision)}); read it again and retry`,
      { resource: name, etag: etagOf(revision) },
    );
  }
}

/** The columns every change of a row sets: a new revision (etag) and update time (the unit of work's `bump()`). */
export interface NewRevision {
  revision: RawBuilder<number>;
  update_time: RawBuilder<string>;
}
