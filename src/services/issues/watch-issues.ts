import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type {
  IssueEvent,
  IssueService,
  WatchIssuesResponseSchema,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { DomainError } from "../../domain/errors.js";
import { eventsAfter, toIssueEvent } from "../../domain/issue-events/issue-event-store.js";
import { type ProjectAccess, projectFor } from "../../domain/shared/access.js";
import type { Caller } from "../../domain/shared/caller.js";
import { findProject } from "../../domain/shared/projects.js";
import { callerOf, tokenExpiry } from "../../shared/caller.js";

/** How often an idle watch stream sends a heartbeat (keeps proxies from closing it). */
const WATCH_HEARTBEAT_MS = 15_000;
const WATCH_BATCH = 500;

/** What a watcher reads at once: events, and the project's access revision as of the same snapshot. */
interface WatchBatch {
  accessRevision: number;
  events: Array<{ sequence: string; event: IssueEvent }>;
}

/**
 * WatchIssues. The streams of one server share their state: the per-user
 * cap, and the event reads and access checks their wake-ups have in common.
 */
export function watchIssues(ctx: AppContext): ServiceImpl<typeof IssueService>["watchIssues"] {
  /** Open WatchIssues streams per user, in this process. */
  const openWatches = new Map<string, number>();

  /**
   * The watchers of a project wake together on a commit and ask for the
   * same events: one query (and one conversion) answers all of them, not one
   * per stream.
   */
  const eventsInFlight = new Map<string, Promise<WatchBatch>>();
  function sharedEventsAfter(project: { uid: string; key: string }, position: string) {
    const key = `${project.uid}/${position}`;
    let batch = eventsInFlight.get(key);
    if (!batch) {
      batch = eventsAfter(ctx.db, project.uid, position, WATCH_BATCH)
        .then(({ accessRevision, events }) => ({
          accessRevision,
          events: events.map((row) => ({ sequence: row.sequence, event: toIssueEvent(row, project.key) })),
        }))
        .finally(() => eventsInFlight.delete(key));
      eventsInFlight.set(key, batch);
    }
    return batch;
  }

  /**
   * A watcher whose project's access changed asks again, exactly as a new
   * call does; the streams of one caller share the question. Resolves with
   * the access revision the answer holds for, or throws what a new call gets.
   */
  const accessChecksInFlight = new Map<string, Promise<number>>();
  function sharedAccessCheck(caller: Caller, parent: string, revision: number) {
    const key = `${caller.userUid} ${parent} ${revision}`;
    let check = accessChecksInFlight.get(key);
    if (!check) {
      check = projectFor(ctx.db, caller, parent, "reader")
        .then((access) => access.access_revision)
        .finally(() => accessChecksInFlight.delete(key));
      accessChecksInFlight.set(key, check);
    }
    return check;
  }

  return (req, context) => watch(req.parent, req.after, context);

  /**
   * Replays the project's events after `after`, then follows new ones. The
   * position is read before the stream waits, and the bus's version before
   * each read, so nothing committed in between is missed.
   */
  async function* watch(
    parent: string,
    after: bigint | undefined,
    context: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchIssuesResponseSchema>> {
    const caller = callerOf(context);
    const project = await projectFor(ctx.db, caller, parent, "reader");
    // Each open stream holds a socket and wakes on every event: cap them per user.
    const open = openWatches.get(caller.userUid) ?? 0;
    if (open >= ctx.limits.maxWatchStreamsPerUser) {
      throw new DomainError(
        "resource_exhausted",
        "TOO_MANY_STREAMS",
        `you already have ${open} WatchIssues streams open; close one first`,
        { limit: String(ctx.limits.maxWatchStreamsPerUser) },
      );
    }
    openWatches.set(caller.userUid, open + 1);
    try {
      yield* follow(caller, parent, project, after, context);
    } finally {
      const left = (openWatches.get(caller.userUid) ?? 1) - 1;
      if (left === 0) openWatches.delete(caller.userUid);
      else openWatches.set(caller.userUid, left);
    }
  }

  /**
   * The stream ends as a new call would fail once the caller's access ends:
   * a read of events carries the project's access revision from the same
   * snapshot, and when it moved by a change that may concern the caller,
   * access is checked again before anything read is delivered. The bus wakes
   * the caller's streams when such a change commits, so they end at once
   * even when no event follows; the token's expiry ends them too.
   */
  async function* follow(
    caller: Caller,
    parent: string,
    project: ProjectAccess,
    after: bigint | undefined,
    context: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchIssuesResponseSchema>> {
    const expiry = tokenExpiry(caller);
    const stop = AbortSignal.any([context.signal, ctx.shutdown, expiry.signal]);
    const watcher = {
      userUid: caller.userUid,
      seen: ctx.issueEvents.version(project.uid),
      accessChecked: project.access_revision,
    };
    async function checkAccess(revision: number) {
      if (revision <= watcher.accessChecked) return;
      if (ctx.issueEvents.mayConcern(project.uid, caller.userUid, watcher.accessChecked, revision)) {
        revision = Math.max(revision, await sharedAccessCheck(caller, parent, revision));
      }
      watcher.accessChecked = revision;
    }
    const accessChangeHeard = () =>
      ctx.issueEvents.mayConcern(
        project.uid,
        caller.userUid,
        watcher.accessChecked,
        ctx.issueEvents.accessRevision(project.uid),
      );
    try {
      // "From now on" is read after the version, so an event committed in
      // between is either before the position or wakes the first wait.
      let position =
        after === undefined ? (await findProject(ctx.db, project.key)).last_event_sequence : after.toString();
      yield { position: BigInt(position) };
      reading: while (!stop.aborted) {
        const { accessRevision, events } = await sharedEventsAfter(project, position);
        await checkAccess(accessRevision);
        for (const { sequence, event } of events) {
          // A change heard of meanwhile (say, while a slow client took the
          // batch) is checked before the rest is delivered.
          if (stop.aborted || accessChangeHeard()) continue reading;
          position = sequence;
          yield { event, position: BigInt(position) };
        }
        if (events.length === WATCH_BATCH) continue;
        const changed = await ctx.issueEvents.waitForChange(project.uid, watcher, WATCH_HEARTBEAT_MS, stop);
        watcher.seen = ctx.issueEvents.version(project.uid);
        if (!changed && !stop.aborted) yield { position: BigInt(position) };
      }
    } finally {
      expiry.clear();
    }
    // Shutdown ends the stream with OK (reconnect elsewhere); the client's
    // own deadline ends it with DEADLINE_EXCEEDED, an expired token with
    // UNAUTHENTICATED, so each differs.
    if (!ctx.shutdown.aborted) throw ConnectError.from(stop.reason);
  }
}
