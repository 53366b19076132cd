import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type CallInProgress, callInProgress } from "../db/cancellation.js";

/**
 * A unary call is answered at its deadline, even while its work still waits
 * on the database (a lock, a hung replica): connect-node aborts the call's
 * signal at the deadline but waits for the handler. The handler runs as the
 * call in progress, so its statement in flight when the client cancels or
 * the deadline passes is cancelled in PostgreSQL, and its next ones are
 * refused (db/cancellation.ts). A write whose COMMIT was already sent may
 * still commit, as after any DEADLINE_EXCEEDED: a client retries with the
 * same request_id. Streams end at their deadline already, and watch their
 * own signal between events.
 */
export function createDeadlineInterceptor(shutdown: AbortSignal): Interceptor {
  return (next) => (req) => {
    if (req.stream) return next(req);
    const { signal } = req;
    const call: CallInProgress = { signal, shutdown, settled: false };
    const work = callInProgress
      .run(call, () => next(req))
      .finally(() => {
        call.settled = true;
      });
    if (signal.aborted) return work;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        // Only the deadline: on shutdown the signal aborts too, and the call
        // in flight is still answered when its work is done (the drain).
        const reason = ConnectError.from(signal.reason);
        if (reason.code !== Code.DeadlineExceeded) return;
        // The handler's own answer, when it comes, is no one's to hear.
        work.catch(() => {});
        reject(reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  };
}
