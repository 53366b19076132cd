import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { sql, type Transaction } from "kysely";
import type { DB, IssueEventKind, MemberRole } from "../../gen/db.js";
import type { AppContext } from "../context.js";
import type { IssueRow } from "../domain/issues/issue-mapping.js";
import { issueDeleted } from "../domain/issues/issue-rules.js";
import { lockIssue } from "../domain/issues/issue-store.js";
import { lockProjectFor, type ProjectAccess } from "../domain/shared/access.js";
import { type AuditOrigin, recordAudit } from "../domain/shared/audit.js";
import type { Caller } from "../domain/shared/caller.js";
import { assertFresh, type NewRevision } from "../domain/shared/etag.js";
import { once } from "../domain/shared/idempotency.js";
import { appendIssueEvent, type FieldChange } from "../domain/shared/issue-events.js";
import { callerOf } from "../shared/caller.js";
import { clientAddressKey, requestIdKey } from "../shared/request-context.js";

// Every mutation runs through `mutate`, which does, in this order and only
// here: open the transaction; authorise the caller by locking the project
// (nothing is read, cached or replayed before the access decision); apply
// idempotency when the method's input has a `request_id`; lock the issue,
// then the row inside it (the one lock order of every writer: project,
// issue, then comment/label/member); check the etag. The handler gets the
// locked rows and the steps it must not write out itself: `bump`, `event`
// and `audit`.

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
  return ctx.db.transaction().execute(async (tx) => {
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
  });
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
  return ctx.db.transaction().execute(async (tx) => {
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
  });
}

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
