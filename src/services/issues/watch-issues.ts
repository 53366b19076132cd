import { ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
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
    const stop = AbortSignal.any([context.signal, ctx.shutdown, expiry.signal]);
    try {
      yield* watches.follow(caller, req.parent, project, req.after, stop);
    } finally {
      expiry.clear();
      await release();
    }
    // Shutdown ends the stream with OK (reconnect elsewhere); the client's
    // own deadline ends it with DEADLINE_EXCEEDED, an expired token with
    // UNAUTHENTICATED, so each differs.
    if (!ctx.shutdown.aborted) throw ConnectError.from(stop.reason);
  };
}
