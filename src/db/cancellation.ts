import { AsyncLocalStorage } from "node:async_hooks";
import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";

// A call whose client cancelled or whose deadline passed must not keep its
// work in PostgreSQL: twenty callers gone while their statements waited on a
// lock held the whole pool until STATEMENT_TIMEOUT_MS, and callers queued
// behind them then ran their statements for no one. The pool's clients
// (hosts.ts) read the call in progress here: a statement in flight when it
// is abandoned is cancelled (PostgreSQL's CancelRequest, as psql's Ctrl-C
// and lib/pq's context cancellation send), and one it would send after that
// is refused, except ROLLBACK, which leaves the connection clean for the pool.

/** A unary call while its handler runs (shared/deadline.ts). */
export interface CallInProgress {
  signal: AbortSignal;
  /** The server's shutdown: a drain answers the calls in flight, so it cancels nothing. */
  shutdown: AbortSignal;
  /** Set when the handler has settled: work it left behind is not the call's to cancel. */
  settled: boolean;
}

export const callInProgress = new AsyncLocalStorage<CallInProgress>();

/** Whether the call's statements are to be cancelled (and its next ones refused) now. */
export function abandoned(call: CallInProgress | undefined): call is CallInProgress {
  return (
    call !== undefined && !call.settled && call.signal.aborted && call.signal.reason !== call.shutdown.reason
  );
}

/**
 * What an abandoned call's statement fails with: DEADLINE_EXCEEDED at the
 * deadline, otherwise CANCELED, however the client left (an HTTP/2 reset
 * with INTERNAL_ERROR is the client's doing, not a server fault).
 */
export function abandonedError(call: CallInProgress): ConnectError {
  const reason = ConnectError.from(call.signal.reason);
  if (reason.code === Code.DeadlineExceeded) return reason;
  return new ConnectError("the client cancelled the call", Code.Canceled, undefined, undefined, reason);
}

export const isRollback = (text: unknown) => typeof text === "string" && /^\s*rollback\b/i.test(text);

/** The backend a pool client talks to, as its BackendKeyData named it. */
export interface Backend {
  host: string;
  port: number;
  processID: number;
  secretKey: number;
}

/**
 * Sends PostgreSQL's CancelRequest for `backend` on a connection of its own
 * (a PgBouncer in front forwards it to the server connection in use), and
 * resolves when the server has closed that connection, by which time it has
 * signalled the backend; or after `timeoutMs`. Until then the client must
 * not run another statement: a cancel landing late would hit it. The
 * request is written and the connection left open for the server to close,
 * as libpq does: PgBouncer 1.18 exits on a cancel connection half-closed
 * at once (bad client state), found by an outside tester.
 */
export function cancelBackend(backend: Backend, timeoutMs: number): Promise<void> {
  // No key yet (still connecting): there is no statement of its own to cancel.
  if (!Number.isInteger(backend.processID) || !Number.isInteger(backend.secretKey)) return Promise.resolve();
  return new Promise((resolve) => {
    const socket = backend.host.startsWith("/")
      ? net.connect(`${backend.host}/.s.PGSQL.${backend.port}`)
      : net.connect(backend.port, backend.host);
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on("error", () => {});
    socket.on("close", () => resolve());
    socket.on("connect", () => {
      const request = Buffer.alloc(16);
      request.writeInt32BE(16, 0);
      request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      request.writeInt32BE(backend.processID, 8);
      request.writeInt32BE(backend.secretKey, 12);
      socket.write(request);
    });
  });
}

/** The CancelRequest message's code (1234 << 16 | 5678), protocol 3.0. */
const CANCEL_REQUEST_CODE = 80877102;
