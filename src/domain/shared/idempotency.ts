import { createHash } from "node:crypto";
import { clone, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type Kysely, sql, type Transaction } from "kysely";
import type { DB } from "../../../gen/db.js";
import { DomainError } from "../errors.js";
import type { ProjectAccess } from "./access.js";
import type { Caller } from "./caller.js";

/** How long a request_id is remembered: a retry later than this creates anew (AIP-155 allows expiry). */
export const REQUEST_ID_RETENTION = "1 day";

/**
 * Whose retry a request is, decided before anything is replayed: the caller,
 * and the project they were just authorised for (`lockProjectFor`), or
 * `null` for a call that creates a project. A request_id is scoped to its
 * caller and parent, so another caller's id is, to them, an unused one.
 */
export type Authorised =
  | { caller: Caller; project: ProjectAccess }
  | {
      caller: Caller;
      project: null;
      /**
       * A call that needs no project access (CreateProject) is authorised
       * again on replay by what it created: this throws what a fresh call
       * would get when the caller may no longer see it.
       */
      mayReplay: () => Promise<void>;
    };

/**
 * Runs a Create at most once per caller, parent and `request_id` (AIP-155),
 * inside the caller's transaction. The first call claims the id with an
 * INSERT; a retry, even one racing the first, waits on that row and then
 * replays the stored response. If the first call fails, its claim rolls back
 * with it, so a retry runs anew. A replay is authorised like a first call:
 * `authorised` can only come from the access check.
 */
export async function once<Req extends DescMessage, Res extends DescMessage>(
  tx: Transaction<DB>,
  authorised: Authorised,
  call: {
    method: string;
    requestSchema: Req;
    request: MessageShape<Req> & { requestId: string; parent?: string };
    responseSchema: Res;
  },
  create: () => Promise<MessageShape<Res>>,
): Promise<MessageShape<Res>> {
  const { method, requestSchema, request, responseSchema } = call;
  if (request.requestId === "") return create();

  const withoutId = clone(requestSchema, request) as MessageShape<Req> & { requestId: string };
  withoutId.requestId = "";
  const requestHash = createHash("sha256").update(toBinary(requestSchema, withoutId)).digest();
  const key = {
    user_uid: authorised.caller.userUid,
    method,
    parent: request.parent ?? "",
    request_id: request.requestId,
  };

  const claimed = await tx
    .insertInto("idempotent_requests")
    .values({ ...key, request_hash: requestHash })
    .onConflict((conflict) => conflict.doNothing())
    .returning("request_id")
    .executeTakeFirst();

  if (claimed) {
    const response = await create();
    await tx
      .updateTable("idempotent_requests")
      .set({ response: Buffer.from(toBinary(responseSchema, response)) })
      .where("user_uid", "=", key.user_uid)
      .where("method", "=", key.method)
      .where("parent", "=", key.parent)
      .where("request_id", "=", key.request_id)
      .execute();
    return response;
  }

  const first = await tx
    .selectFrom("idempotent_requests")
    .select(["request_hash", "response"])
    .where("user_uid", "=", key.user_uid)
    .where("method", "=", key.method)
    .where("parent", "=", key.parent)
    .where("request_id", "=", key.request_id)
    .executeTakeFirstOrThrow();
  if (!first.request_hash.equals(requestHash) || first.response === null) {
    throw new DomainError(
      "invalid_argument",
      "REQUEST_ID_REUSED",
      "request_id was already used for a different request; use a new UUID for every new request",
      {},
      [{ field: "request_id", description: "already used for a different request" }],
    );
  }
  if (authorised.project === null) await authorised.mayReplay();
  return fromBinary(responseSchema, first.response);
}

/** Forgets request ids older than REQUEST_ID_RETENTION, so the table stays bounded. */
export async function expireRequestIds(db: Kysely<DB>): Promise<bigint> {
  const { numDeletedRows } = await db
    .deleteFrom("idempotent_requests")
    .where("create_time", "<", sql<string>`now() - ${REQUEST_ID_RETENTION}::interval`)
    .executeTakeFirst();
  return numDeletedRows;
}
