import { Writable } from "node:stream";
import { Code, ConnectError, createContextValues, type Interceptor } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createErrorInterceptor } from "../src/shared/errors.js";
import { requestIdKey } from "../src/shared/request-context.js";

// Found by the soak (soak/, RELIABILITY.md): a WatchIssues client that hangs
// up while the server writes to it is the client's doing, not a server bug.

type Next = Parameters<Interceptor>[0];
type Request = Parameters<Next>[0];

/** Runs a streaming response through the error interceptor; returns what its reader gets and what was logged. */
async function throughInterceptor(failure: unknown) {
  const logged: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _encoding, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  async function* messages() {
    yield {};
    throw failure;
  }
  const next = (async () => ({ stream: true, message: messages() })) as unknown as Next;
  const req = {
    contextValues: createContextValues().set(requestIdKey, "r1"),
    url: "/x",
  } as unknown as Request;
  const res = (await createErrorInterceptor(logger)(next)(req)) as unknown as {
    message: AsyncIterable<unknown>;
  };
  let error: ConnectError | undefined;
  try {
    for await (const _ of res.message);
  } catch (thrown) {
    error = ConnectError.from(thrown);
  }
  return { error, logged };
}

const nodeError = (code: string) => Object.assign(new Error(`node says ${code}`), { code });

describe("the error interceptor", () => {
  it.each(["ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END", "ERR_HTTP2_INVALID_STREAM"])(
    "takes %s while writing a stream for the client hanging up: CANCELED, no bug logged",
    async (code) => {
      const { error, logged } = await throughInterceptor(nodeError(code));
      expect(error?.code).toBe(Code.Canceled);
      expect(logged.filter((line) => line.level >= 50)).toEqual([]);
    },
  );

  it("still answers a database connection reset with UNAVAILABLE", async () => {
    const { error } = await throughInterceptor(nodeError("ECONNRESET"));
    expect(error?.code).toBe(Code.Unavailable);
  });

  it("still answers and logs a handler's own failure as INTERNAL", async () => {
    const { error, logged } = await throughInterceptor(new TypeError("undefined is not a function"));
    expect(error?.code).toBe(Code.Internal);
    expect(logged.map((line) => line.msg)).toContain("handler failed");
  });
});
