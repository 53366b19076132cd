import { createHash } from "node:crypto";
import { clone, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { Transaction } from "kysely";
import type { DB } from "../../gen/db.js";
import { apiError } from "./errors.js";

/**
 * Runs a Create at most once per `request_id` (AIP-155), inside the caller's
 * transaction. The first call claims the id with an INSERT; a retry, even one
 * racing the first, waits on that row and then replays the stored response.
 * If the first call fails, its claim rolls back with it, so a retry runs anew.
 */
export async function once<Req extends DescMessage, Res extends DescMessage>(
  tx: Transaction<DB>,
  call: {
    method: string;
    requestSchema: Req;
    request: MessageShape<Req> & { requestId: string };
    responseSchema: Res;
  },
  create: () => Promise<MessageShape<Res>>,
): Promise<MessageShape<Res>> {
  const { method, requestSchema, request, responseSchema } = call;
  if (request.requestId === "") return create();

  const withoutId = clone(requestSchema, request) as MessageShape<Req> & { requestId: string };
  withoutId.requestId = "";
  const requestHash = createHash("sha256").update(toBinary(requestSchema, withoutId)).digest();

  const claimed = await tx
    .insertInto("idempotent_requests")
    .values({ method, request_id: request.requestId, request_hash: requestHash })
    .onConflict((conflict) => conflict.doNothing())
    .returning("request_id")
    .executeTakeFirst();

  if (claimed) {
    const response = await create();
    await tx
      .updateTable("idempotent_requests")
      .set({ response: Buffer.from(toBinary(responseSchema, response)) })
      .where("method", "=", method)
      .where("request_id", "=", request.requestId)
      .execute();
    return response;
  }

  const first = await tx
    .selectFrom("idempotent_requests")
    .select(["request_hash", "response"])
    .where("method", "=", method)
    .where("request_id", "=", request.requestId)
    .executeTakeFirstOrThrow();
  if (!first.request_hash.equals(requestHash) || first.response === null) {
    throw apiError(
      Code.InvalidArgument,
      "REQUEST_ID_REUSED",
      "request_id was already used for a different request; use a new UUID for every new request",
      { fieldViolations: [{ field: "request_id", description: "already used for a different request" }] },
    );
  }
  return fromBinary(responseSchema, first.response);
}
