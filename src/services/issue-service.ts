import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  CreateIssueRequestSchema,
  type Issue,
  type IssueEvent,
  IssueSchema,
  IssueService,
  Issue_Priority as Priority,
  type WatchIssuesResponseSchema,
} from "../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../context.js";
import { lockProjectFor, type ProjectAccess, projectFor } from "../shared/access.js";
import { recordAudit } from "../shared/audit.js";
import { type Caller, callerOf, tokenExpiry } from "../shared/caller.js";
import { apiError, invalidArgument, notFound, required } from "../shared/errors.js";
import { assertFresh } from "../shared/etag.js";
import { once } from "../shared/idempotency.js";
import { appendIssueEvent, diffFields } from "../shared/issue-events.js";
import { issueNumberOf, projectKeyOf } from "../shared/names.js";
import { findProject } from "../shared/projects.js";
import { maskedFields } from "../shared/update-mask.js";
import { eventsAfter, listIssueEvents, toIssueEvent } from "./issues/issue-history.js";
import {
  dbPriority,
  findIssue,
  issueDeleted,
  lockIssue,
  nextStateOf,
  resolveAssignee,
  resolveLabels,
  selectIssues,
  selectIssueWithCallerRole,
  snapshotOf,
  toIssue,
} from "./issues/issue-rows.js";
import { listIssues } from "./issues/list-issues.js";

const WRITABLE = ["title", "body", "state", "close_reason", "priority", "assignee", "labels"] as const;

/** How often an idle watch stream sends a heartbeat (keeps proxies from closing it). */
const WATCH_HEARTBEAT_MS = 15_000;
const WATCH_BATCH = 500;

/** What a watcher reads at once: events, and the project's access revision as of the same snapshot. */
interface WatchBatch {
  accessRevision: number;
  events: Array<{ sequence: string; event: IssueEvent }>;
}

export function issueService(ctx: AppContext) {
  /** The issue as stored now, in the API's shape. */
  async function reload(
    db: AppContext["db"],
    project: { uid: string; key: string },
    name: string,
  ): Promise<Issue> {
    return toIssue(await findIssue(db, project.uid, name), project.key);
  }

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

  return (router: ConnectRouter) =>
    router.service(IssueService, {
      async getIssue(req, context) {
        // The hottest read takes one round trip. Every role may read, and a
        // non-member learns nothing: NOT_FOUND, as for a missing issue.
        const key = projectKeyOf(req.name);
        const row = await selectIssueWithCallerRole(
          ctx.db,
          callerOf(context).userUid,
          key,
          issueNumberOf(req.name),
        ).executeTakeFirst();
        if (!row?.caller_role) throw notFound(req.name);
        return toIssue(row, key);
      },

      async batchGetIssues(req, context) {
        const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
        const numbers = req.names.map((name, index) => {
          if (projectKeyOf(name) !== project.key) {
            throw invalidArgument(
              `names[${index}]`,
              `is not an issue of ${req.parent}`,
              "ISSUE_OF_OTHER_PROJECT",
            );
          }
          return issueNumberOf(name);
        });
        const rows = await selectIssues(ctx.db, project.uid).where("number", "in", numbers).execute();
        const byNumber = new Map(rows.map((row) => [row.number, row]));
        // AIP-231: all or nothing, in the order asked.
        const issues = req.names.map((name, index) => {
          const row = byNumber.get(numbers[index] ?? "");
          if (!row)
            throw apiError(Code.NotFound, "RESOURCE_NOT_FOUND", `${name} does not exist`, {
              metadata: { resource: name },
            });
          return toIssue(row, project.key);
        });
        return { issues };
      },

      async listIssues(req, context) {
        const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
        const { page, nextPageToken } = await listIssues(ctx.db, project, req);
        return { issues: page.map((row) => toIssue(row, project.key)), nextPageToken };
      },

      async createIssue(req, context) {
        const caller = callerOf(context);
        const draft = req.issue;
        const call = {
          method: "CreateIssue",
          requestSchema: CreateIssueRequestSchema,
          request: req,
          responseSchema: IssueSchema,
        };
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, req.parent, "writer");
          return once(tx, { caller, project }, call, async () => {
            const state = nextStateOf(
              { state: "open", close_reason: null, close_time: null },
              { state: draft?.state, closeReason: draft?.closeReason },
            );
            const assigneeUid = await resolveAssignee(tx, project.uid, draft?.assignee ?? "");
            const labelUids = await resolveLabels(tx, project.uid, project.key, draft?.labels ?? []);
            // Numbers come from the locked project row: gapless, never reused.
            const { last_issue_number: number } = await tx
              .updateTable("projects")
              .set((eb) => ({ last_issue_number: eb("last_issue_number", "+", "1") }))
              .where("uid", "=", project.uid)
              .returning("last_issue_number")
              .executeTakeFirstOrThrow();
            const inserted = await tx
              .insertInto("issues")
              .values((eb) => ({
                project_uid: project.uid,
                number,
                title: required(draft?.title, "issue.title"),
                body: draft?.body ?? "",
                state: state.state,
                close_reason: state.close_reason,
                close_time: state.state === "closed" ? eb.fn("now") : null,
                priority: dbPriority(draft?.priority ?? Priority.UNSPECIFIED) ?? "none",
                reporter_uid: caller.userUid,
                assignee_uid: assigneeUid,
              }))
              .returning("uid")
              .executeTakeFirstOrThrow();
            if (labelUids.length) {
              await tx
                .insertInto("issue_labels")
                .values(labelUids.map((label_uid) => ({ issue_uid: inserted.uid, label_uid })))
                .execute();
            }
            const issue = await reload(tx, project, `${req.parent}/issues/${number}`);
            await appendIssueEvent(tx, {
              projectUid: project.uid,
              issueUid: inserted.uid,
              issueNumber: number,
              actorUid: caller.userUid,
              kind: "issue_created",
              changes: diffFields({}, snapshotOf(issue)),
            });
            await recordAudit(tx, context, { resource: issue.name, schema: IssueSchema, after: issue });
            return issue;
          });
        });
      },

      async updateIssue(req, context) {
        const caller = callerOf(context);
        const draft = req.issue;
        const name = draft?.name ?? "";
        const fields = maskedFields(req.updateMask, WRITABLE);
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, name, "writer");
          const row = await lockIssue(tx, project.uid, name);
          if (row.delete_time !== null) throw issueDeleted(name, true);
          assertFresh(draft?.etag ?? "", row.revision, name);
          const before = toIssue(row, project.key);
          const state = nextStateOf(row, {
            state: fields.has("state") ? draft?.state : undefined,
            closeReason: fields.has("close_reason") ? draft?.closeReason : undefined,
          });
          const priority =
            fields.has("priority") && draft?.priority !== Priority.UNSPECIFIED
              ? dbPriority(draft?.priority ?? 0)
              : undefined;
          const assigneeUid = fields.has("assignee")
            ? await resolveAssignee(tx, project.uid, draft?.assignee ?? "")
            : row.assignee_uid;
          const labelUids = fields.has("labels")
            ? await resolveLabels(tx, project.uid, project.key, draft?.labels ?? [])
            : undefined;

          await tx
            .updateTable("issues")
            .set((eb) => ({
              title: fields.has("title") ? required(draft?.title, "issue.title") : row.title,
              body: fields.has("body") ? (draft?.body ?? "") : row.body,
              state: state.state,
              close_reason: state.close_reason,
              close_time: state.state !== "closed" ? null : state.closing ? eb.fn("now") : row.close_time,
              priority: priority ?? row.priority,
              assignee_uid: assigneeUid,
            }))
            .where("uid", "=", row.uid)
            .execute();
          if (labelUids) {
            await tx.deleteFrom("issue_labels").where("issue_uid", "=", row.uid).execute();
            if (labelUids.length) {
              await tx
                .insertInto("issue_labels")
                .values(labelUids.map((label_uid) => ({ issue_uid: row.uid, label_uid })))
                .execute();
            }
          }
          const changes = diffFields(snapshotOf(before), snapshotOf(await reload(tx, project, name)));
          // Nothing changed: no new version, no history entry.
          if (changes.length === 0) return before;
          await tx
            .updateTable("issues")
            .set((eb) => ({ revision: eb("revision", "+", 1), update_time: eb.fn("now") }))
            .where("uid", "=", row.uid)
            .execute();
          await appendIssueEvent(tx, {
            projectUid: project.uid,
            issueUid: row.uid,
            issueNumber: row.number,
            actorUid: caller.userUid,
            kind: "issue_updated",
            changes,
          });
          const after = await reload(tx, project, name);
          await recordAudit(tx, context, { resource: name, schema: IssueSchema, before, after });
          return after;
        });
      },

      async deleteIssue(req, context) {
        return setDeleted(req.name, req.etag, true, context);
      },

      async undeleteIssue(req, context) {
        return setDeleted(req.name, req.etag, false, context);
      },

      async listIssueEvents(req, context) {
        const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
        const issueUid = req.parent.includes("/issues/")
          ? (await findIssue(ctx.db, project.uid, req.parent)).uid
          : undefined;
        return listIssueEvents(ctx.db, project, issueUid, req);
      },

      watchIssues: (req, context) => watchIssues(req.parent, req.after, context),
    });

  async function setDeleted(
    name: string,
    etag: string,
    deleted: boolean,
    context: HandlerContext,
  ): Promise<Issue> {
    const caller = callerOf(context);
    const actorUid = caller.userUid;
    return ctx.db.transaction().execute(async (tx) => {
      const project = await lockProjectFor(tx, caller, name, "writer");
      const row = await lockIssue(tx, project.uid, name);
      if ((row.delete_time !== null) === deleted) throw issueDeleted(name, deleted);
      assertFresh(etag, row.revision, name);
      await tx
        .updateTable("issues")
        .set((eb) => ({
          delete_time: deleted ? eb.fn("now") : null,
          revision: eb("revision", "+", 1),
          update_time: eb.fn("now"),
        }))
        .where("uid", "=", row.uid)
        .execute();
      const issue = await reload(tx, project, name);
      // The history holds the field's JSON value: an RFC 3339 time, or null.
      const deleteTimeOf = (shape: Issue) =>
        (toJson(IssueSchema, shape) as { deleteTime?: string }).deleteTime ?? null;
      await appendIssueEvent(tx, {
        projectUid: project.uid,
        issueUid: row.uid,
        issueNumber: row.number,
        actorUid,
        kind: deleted ? "issue_deleted" : "issue_undeleted",
        changes: [
          { field: "delete_time", old: deleteTimeOf(toIssue(row, project.key)), new: deleteTimeOf(issue) },
        ],
      });
      await recordAudit(tx, context, {
        resource: name,
        schema: IssueSchema,
        before: toIssue(row, project.key),
        after: issue,
      });
      return issue;
    });
  }

  /**
   * Replays the project's events after `after`, then follows new ones. The
   * position is read before the stream waits, and the bus's version before
   * each read, so nothing committed in between is missed.
   */
  async function* watchIssues(
    parent: string,
    after: bigint | undefined,
    context: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchIssuesResponseSchema>> {
    const caller = callerOf(context);
    const project = await projectFor(ctx.db, caller, parent, "reader");
    // Each open stream holds a socket and wakes on every event: cap them per user.
    const open = openWatches.get(caller.userUid) ?? 0;
    if (open >= ctx.limits.maxWatchStreamsPerUser) {
      throw apiError(
        Code.ResourceExhausted,
        "TOO_MANY_STREAMS",
        `you already have ${open} WatchIssues streams open; close one first`,
        { metadata: { limit: String(ctx.limits.maxWatchStreamsPerUser) } },
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
