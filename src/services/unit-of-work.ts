import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { sql, type Transaction } from "kysely";
import type { DB, IssueEventKind, MemberRole } from "../../gen/db.js";
import type { AppContext } from "../context.js";
import type { Database } from "../db/database.js";
import { DomainError } from "../domain/errors.js";
import type { IssueRow } from "../domain/issues/issue-mapping.js";
import { issueDeleted } from "../domain/issues/issue-rules.js";
import { lockIssue } from "../domain/issues/issue-store.js";
import { lockProjectFor, type ProjectAccess, projectFor } from "../domain/shared/access.js";
import { type AuditOrigin, recordAudit } from "../domain/shared/audit.js";
import type { Caller } from "../domain/shared/caller.js";
import { assertFresh, type NewRevision } from "../domain/shared/etag.js";
import { once } from "../domain/shared/idempotency.js";
import { appendIssueEvent, type FieldChange } from "../domain/shared/issue-events.js";
import { answeredWithin } from "../shared/answered-within.js";
import { callerOf } from "../shared/caller.js";
import { CONSISTENCY_TOKEN_HEADER, consistencyTokenOf } from "../shared/consistency-token.js";
import { toConnectError } from "../shared/errors.js";
import { clientAddressKey, requestIdKey } from "../shared/request-context.js";

// Every mutation runs through `mutate`, which does, in this order and only
// here: open the transaction; authorise the caller by locking the project
// (nothing is read, cached or replayed before the access decision); apply
// idempotency when the method's input has a `request_id`; lock the issue,
// then the row inside it (the one lock order of every writer: project,
// issue, then comment/label/member); check the etag. The handler gets the
// locked rows and the steps it must not write out itself: `bump`, `event`
// and `audit`. With a read replica, the response then carries the commit's
// consistency token.
//
// Reads that may lag (lists and history) run through `read`, which picks
// the database that serves them: the replica when there is one, it answers,
// and it has replayed the caller's consistency token; otherwise the primary.

/** What a mutation is about, and what the caller needs for it. */
export interface Scope<Target> {
  /** Any name in the project (`projects/P/...`): the caller is authorised for its project. */
  resource: string;
  role: MemberRole;
  /** Deleted projects may be changed (undelete, or the project itself). */
  allowDeletedProject?: boolean;
  /** The issue to lock after the project, and whether it must be live or deleted. */
  issue?: { name: string; must?: "be live" | "be deleted" };
  /** Locks the row the change is about (after project and issue), with its own checks. */
  target?: (locked: Locked) => Promise<Target>;
  /** The caller's etag, compared with the target's (or else the issue's, or the project's) revision. */
  etag?: string;
}

export interface Locked {
  tx: Transaction<DB>;
  caller: Caller;
  project: ProjectAccess;
  /** Set when the scope names an issue. */
  issue: IssueRow | undefined;
}

export interface Work<Target> extends Locked {
  target: Target;
  /** The columns every change of a row sets: a new revision (etag) and update time. */
  bump(): NewRevision;
  /** Appends an event to the history of `issue` (which NOTIFYs watchers on commit). */
  event(
    issue: { uid: string; number: string },
    kind: IssueEventKind,
    detail?: { changes?: FieldChange[]; commentUid?: string; relationUid?: string },
  ): Promise<string>;
  /** Records the change in the audit log: `before` unset for creates, `after` for deletes. */
  audit<Desc extends DescMessage>(change: {
    resource: string;
    schema: Desc;
    before?: MessageShape<Desc>;
    after?: MessageShape<Desc>;
  }): Promise<void>;
}

export function auditOriginOf(context: HandlerContext): AuditOrigin {
  return {
    actorUid: callerOf(context).userUid,
    method: `/${context.service.typeName}/${context.method.name}`,
    requestId: context.values.get(requestIdKey),
    clientAddress: context.values.get(clientAddressKey),
  };
}

/** The idempotency call of a method whose input carries a `request_id` (AIP-155), from its descriptors. */
function idempotentCall(context: HandlerContext, request: object) {
  const input = context.method.input;
  if (!input.fields.some((field) => field.name === "request_id")) return undefined;
  return {
    method: context.method.name,
    requestSchema: input,
    request: request as MessageShape<DescMessage> & { requestId: string; parent?: string },
    responseSchema: context.method.output,
  };
}

/** Runs one mutation in its unit of work (see above); resolves with what the handler returns. */
export async function mutate<Response, Target = undefined>(
  ctx: AppContext,
  context: HandlerContext,
  request: object,
  scope: Scope<Target>,
  handler: (work: Work<Target>) => Promise<Response>,
): Promise<Response> {
  const caller = callerOf(context);
  const origin = auditOriginOf(context);
  return committed(ctx, context, (db) =>
    db.transaction().execute(async (tx) => {
      const project = await lockProjectFor(tx, caller, scope.resource, scope.role, {
        allowDeleted: scope.allowDeletedProject,
      });
      const run = async () => {
        const issue = scope.issue ? await lockIssue(tx, project.uid, scope.issue.name) : undefined;
        if (issue && scope.issue?.must) {
          const deleted = issue.delete_time !== null;
          if (deleted !== (scope.issue.must === "be deleted")) throw issueDeleted(scope.issue.name, deleted);
        }
        const locked: Locked = { tx, caller, project, issue };
        const target = scope.target ? await scope.target(locked) : (undefined as Target);
        if (scope.etag !== undefined) {
          const row: { revision: number } = (target as { revision: number } | undefined) ?? issue ?? project;
          assertFresh(scope.etag, row.revision, scope.resource);
        }
        return audited(tx, origin, { ...locked, target }, handler);
      };
      const call = idempotentCall(context, request);
      if (!call) return run();
      // Replays are of this caller's own calls in the project they were just authorised for.
      return once(
        tx,
        { caller, project },
        call,
        run as () => Promise<MessageShape<DescMessage>>,
      ) as Promise<Response>;
    }),
  );
}

/**
 * A mutation of no existing project (CreateProject): any signed-in caller
 * may, so there is nothing to authorise, and idempotency is scoped to the caller.
 */
export async function mutateOutsideProjects<Response>(
  ctx: AppContext,
  context: HandlerContext,
  request: object,
  /** On a replay: throws what a fresh call would get when the caller may no longer see what it created. */
  mayReplay: (tx: Transaction<DB>, caller: Caller) => Promise<void>,
  handler: (work: Omit<Work<undefined>, "project" | "issue" | "target">) => Promise<Response>,
): Promise<Response> {
  const caller = callerOf(context);
  const origin = auditOriginOf(context);
  return committed(ctx, context, (db) =>
    db.transaction().execute(async (tx) => {
      const run = () =>
        audited(tx, origin, { tx, caller, project: undefined, issue: undefined, target: undefined }, handler);
      const call = idempotentCall(context, request);
      if (!call) return run();
      return once(
        tx,
        { caller, project: null, mayReplay: () => mayReplay(tx, caller) },
        call,
        run as () => Promise<MessageShape<DescMessage>>,
      ) as Promise<Response>;
    }),
  );
}

/**
 * Runs a write's transaction and, when there is a read replica, answers with
 * its consistency token: the primary's WAL insert position read after the
 * commit, on the same connection, so at or past the commit record. (Read in
 * the transaction, it would come before the commit record, and a replica
 * there would not have the write yet.) A replayed request gets the position
 * now, past its first commit too. Should that read fail, the write stands
 * and goes without a token: the client's next read may then be a stale one.
 */
async function committed<Response>(
  ctx: AppContext,
  context: HandlerContext,
  transaction: (db: Database) => Promise<Response>,
): Promise<Response> {
  if (!ctx.replica) return transaction(ctx.db);
  return ctx.db.connection().execute(async (db) => {
    const response = await transaction(db);
    try {
      const { rows } = await sql<{ lsn: string }>`SELECT pg_current_wal_insert_lsn() AS lsn`.execute(db);
      if (rows[0]) context.responseHeader.set(CONSISTENCY_TOKEN_HEADER, rows[0].lsn);
    } catch (error) {
      ctx.logger.warn({ err: error }, "committed, but could not read the consistency token; none sent");
    }
    return response;
  });
}

/** What a read that may lag is given: the database chosen to serve it, and the caller. */
export interface Reading {
  db: Database;
  caller: Caller;
}

/**
 * Runs a read that may lag (a list, a history): on the read replica when
 * one is set, it answers, and it has replayed the caller's consistency token
 * (the `tracker-consistency-token` request header, if sent); otherwise on the
 * primary. `handler` reads only through `reading.db` and checks access as it
 * would on the primary; never a write, never a read a write depends on.
 *
 * `resource` names the project whose members may read (unset: access does
 * not depend on the database, as for the audit log). Before the replica
 * serves the read, the caller's membership is checked on the primary: a
 * replica that has not replayed a member's removal must not let them in
 * (DEPLOYMENT.md#read-replicas says why not a position instead).
 *
 * The replica's answer gives way to the primary's when it is NOT_FOUND (the
 * replica may not have the project, issue or membership yet), or when the
 * replica fails: cannot be reached (then it is skipped for a while, and the
 * outage logged once) or cancelled the read in a conflict with its recovery.
 */
export async function read<Response>(
  ctx: AppContext,
  context: HandlerContext,
  scope: { resource?: string },
  handler: (reading: Reading) => Promise<Response>,
): Promise<Response> {
  const caller = callerOf(context);
  const token = consistencyTokenOf(context);
  const { replica } = ctx;
  const onPrimary = (target: "primary" | "fallback") => {
    ctx.metrics.readServed(target);
    return handler({ db: ctx.db, caller });
  };
  if (!replica) return onPrimary("primary");
  if (!replica.inUse()) return onPrimary("fallback");
  if (scope.resource !== undefined) await projectFor(ctx.db, caller, scope.resource, "reader");
  let served: { response: Response } | undefined;
  try {
    // One connection, so the token is checked on the server that then serves the read.
    served = await answeredWithin(
      replica.db.connection().execute(async (db) => {
        if (token !== undefined && !(await replica.hasReplayed(db, token))) return undefined;
        return { response: await handler({ db, caller }) };
      }),
      REPLICA_READ_TIMEOUT_MS,
      () => new ConnectError(`no answer within ${REPLICA_READ_TIMEOUT_MS} ms`, Code.Unavailable),
    );
  } catch (error) {
    if (error instanceof DomainError) {
      if (error.code === "not_found") return onPrimary("primary");
      throw error;
    }
    if (context.signal.aborted) throw error;
    const { code } = toConnectError(error);
    if (code === Code.Unavailable) {
      if (replica.failed())
        ctx.logger.warn(
          { err: error },
          'the read replica does not answer; reads go to the primary until it does (db_reads_total{target="fallback"})',
        );
      return onPrimary("fallback");
    }
    // Cancelled in a conflict with the replica's recovery (40001, 40P01).
    if (code === Code.Aborted) return onPrimary("fallback");
    throw error;
  }
  if (replica.answered()) ctx.logger.info("the read replica answers again; reads that may lag go to it");
  if (!served) return onPrimary("primary");
  ctx.metrics.readServed("replica");
  return served.response;
}

/**
 * A replica read not answered in this is taken for a replica that does not
 * answer (frozen, or behind a partition, its connection still open): the read
 * goes to the primary. Reads that may lag are pages, bounded in rows and bytes.
 */
const REPLICA_READ_TIMEOUT_MS = 5_000;

/**
 * Runs the handler with its Work, and refuses to commit a change that was
 * bumped or written to the history but not audited: a bug, so INTERNAL, and
 * the transaction rolls back.
 */
async function audited<Target, Response>(
  tx: Transaction<DB>,
  origin: AuditOrigin,
  locked: Omit<Locked, "project"> & { project: ProjectAccess | undefined; target: Target },
  handler: (work: Work<Target>) => Promise<Response>,
): Promise<Response> {
  const steps = { changed: false, audited: false };
  const work = workOf(tx, origin, locked, steps);
  const response = await handler(work);
  if (steps.changed && !steps.audited)
    throw new Error(`${origin.method} changed a row without an audit event`);
  return response;
}

function workOf<Target>(
  tx: Transaction<DB>,
  origin: AuditOrigin,
  locked: Omit<Locked, "project"> & { project: ProjectAccess | undefined; target: Target },
  steps: { changed: boolean; audited: boolean },
): Work<Target> {
  return {
    ...(locked as Locked & { target: Target }),
    bump: () => {
      steps.changed = true;
      return { revision: sql<number>`revision + 1`, update_time: sql<string>`now()` };
    },
    event: (issue, kind, detail = {}) => {
      const project = locked.project;
      if (!project) throw new Error("an issue event needs the project it belongs to");
      steps.changed = true;
      return appendIssueEvent(tx, {
        projectUid: project.uid,
        issueUid: issue.uid,
        issueNumber: issue.number,
        actorUid: origin.actorUid,
        kind,
        ...detail,
      });
    },
    audit: (change) => {
      steps.audited = true;
      return recordAudit(tx, origin, change);
    },
  };
}
