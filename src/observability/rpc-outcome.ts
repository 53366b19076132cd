import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeName } from "../shared/errors.js";

// How an RPC ended, told the same way to the request log and the metrics.

type Request = Parameters<Parameters<Interceptor>[0]>[0];

export interface RpcOutcome {
  /** `/tracker.v1.IssueService/GetIssue` */
  procedure: string;
  /** connect, connect-get, grpc or grpc-web */
  protocol: string;
  /** `ok`, `not_found`, `deadline_exceeded`... */
  code: string;
  durationMs: number;
  /** Whether the RPC streams (it ends when its stream does, or fails before it starts). */
  stream: boolean;
}

/** What is told of every RPC: when it starts (returning a context), and how it ended. */
export interface RpcObserver<T = unknown> {
  started?(req: Request, procedure: string, protocol: string): T;
  record(outcome: RpcOutcome, context: T, req: Request): void;
}

/**
 * One interceptor that tells every observer of each RPC once when it ends:
 * unary calls when they return or fail, streams when they finish, fail, or
 * are abandoned by their reader (with the reason the request was aborted).
 * One for all observers, so a stream's messages pass one wrapper, not one
 * per observer (a WatchIssues fan-out pays it per message per stream).
 */
export function observeRpcs(observers: readonly RpcObserver[]): Interceptor {
  return (next) => async (req) => {
    const begin = performance.now();
    const procedure = `/${req.service.typeName}/${req.method.name}`;
    const protocol = protocolOf(req.header.get("content-type") ?? "", req.requestMethod);
    const stream = req.method.methodKind !== "unary";
    const contexts = observers.map((observer) => observer.started?.(req, procedure, protocol));
    let done = false;
    const end = (error: unknown) => {
      if (done) return;
      done = true;
      const code = error === undefined ? "ok" : codeName(ConnectError.from(error).code);
      const outcome = { procedure, protocol, code, durationMs: performance.now() - begin, stream };
      observers.forEach((observer, i) => {
        observer.record(outcome, contexts[i], req);
      });
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (error) {
      end(error);
      throw error;
    }
    if (!res.stream) {
      end(undefined);
      return res;
    }
    const abandoned = () => end(req.signal.aborted ? req.signal.reason : new ConnectError("", Code.Canceled));
    return { ...res, message: observeStream(res.message, end, abandoned) };
  };
}

async function* observeStream<T>(
  messages: AsyncIterable<T>,
  ended: (error: unknown) => void,
  abandoned: () => void,
): AsyncIterable<T> {
  try {
    yield* messages;
    ended(undefined);
  } catch (error) {
    ended(error);
    throw error;
  } finally {
    abandoned();
  }
}

function protocolOf(contentType: string, method: string): string {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return method === "GET" ? "connect-get" : "connect";
}
