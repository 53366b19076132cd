import type { HandlerContext } from "@connectrpc/connect";
import { DomainError } from "../domain/errors.js";

// Read-your-writes behind a read replica (DEPLOYMENT.md#read-replicas): every
// write answers with the WAL position its commit reached, and a read that
// sends it back is served by the replica only once the replica has replayed
// that far.

/** The response header of a write, and the request header of a read that must see it. */
export const CONSISTENCY_TOKEN_HEADER = "tracker-consistency-token";

/** A PostgreSQL LSN as pg_lsn writes it: two hexadecimal numbers of up to 8 digits each. */
const LSN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/**
 * The consistency token the request sent, if any; one that is no token this
 * API issues is INVALID_ARGUMENT naming the header (never echoing it).
 */
export function consistencyTokenOf(context: HandlerContext): string | undefined {
  const value = context.requestHeader.get(CONSISTENCY_TOKEN_HEADER);
  if (value === null || value === "") return undefined;
  if (!LSN.test(value)) {
    throw new DomainError(
      "invalid_argument",
      "INVALID_CONSISTENCY_TOKEN",
      `the ${CONSISTENCY_TOKEN_HEADER} header is not a token this API issued: send back the value of a write's ${CONSISTENCY_TOKEN_HEADER} response header, or none`,
      { header: CONSISTENCY_TOKEN_HEADER },
    );
  }
  return value;
}
