import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type IssueEvent,
  type IssueService,
  type WatchIssuesResponse,
  WatchIssuesResponseSchema,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { IssueWatches } from "../../domain/issue-events/issue-watch.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf, tokenExpiry } from "../../shared/caller.js";

/** WatchIssues. Every process's streams share the per-user cap (ctx.watchStreams); one server's share their reads (see IssueWatches). */
export function watchIssues(ctx: AppContext): ServiceImpl<typeof IssueService>["watchIssues"] {
  const watches = new IssueWatches(ctx.db, ctx.issueEvents);
  return async function* (req, context) {
    const caller = callerOf(context);
    const project = await projectFor(ctx.db, caller, req.parent, "reader");
    const release = await ctx.watchStreams.take(caller.userUid);
    const expiry = tokenExpiry(caller);
    const stop = firstAbortOf([context.signal, ctx.shutdown, expiry.signal]);
    const binary = !(context.requestHeader.get("content-type") ?? "").includes("json");
    try {
      for await (const update of watches.follow(caller, req.parent, project, req.after, stop.signal)) {
        yield binary && update.event ? encodedOnce(update.event, update.position) : update;
      }
    } finally {
      stop.dispose();
      expiry.clear();
      await release();
    }
    // Shutdown ends the stream with OK (reconnect elsewhere); the client's
    // own deadline ends it with DEADLINE_EXCEEDED, an expired token with
    // UNAUTHENTICATED, so each differs.
    if (!ctx.shutdown.aborted) throw ConnectError.from(stop.signal.reason);
  };
}

/**
 * Aborts with the reason of the first of `signals` to abort. Unlike
 * AbortSignal.any's, this signal is a plain one: a stream reads it and
 * listens to it on every event, which costs a composite signal a walk over
 * its sources each time (a tenth of a thousand-watcher fan-out's CPU).
 */
function firstAbortOf(signals: AbortSignal[]): { signal: AbortSignal; dispose(): void } {
  const first = new AbortController();
  const onAbort = (event: Event) => first.abort((event.target as AbortSignal).reason);
  for (const signal of signals) {
    if (signal.aborted) first.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    signal: first.signal,
    dispose: () => {
      for (const signal of signals) signal.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * A commit reaches every watcher of its project as the same event object
 * (IssueWatches reads it once), so binary streams get it encoded once: as a
 * message whose fields are all kept as unknown bytes, which protobuf-es
 * writes out as they are, instead of encoding the event again per stream.
 * JSON streams encode it each, as connect-es gives no way to hand it bytes.
 * (An event's position is its own sequence, the same on every stream.)
 */
const encodings = new WeakMap<IssueEvent, WatchIssuesResponse>();

function encodedOnce(event: IssueEvent, position: bigint): WatchIssuesResponse {
  const known = encodings.get(event);
  if (known) return known;
  const bytes = toBinary(WatchIssuesResponseSchema, create(WatchIssuesResponseSchema, { event, position }));
  const encoded = create(WatchIssuesResponseSchema);
  encoded.$unknown = [];
  for (const reader = new BinaryReader(bytes); reader.pos < reader.len; ) {
    const [no, wireType] = reader.tag();
    const start = reader.pos;
    reader.skip(wireType, no);
    encoded.$unknown.push({ no, wireType, data: bytes.subarray(start, reader.pos) });
  }
  encodings.set(event, encoded);
  return encoded;
}
