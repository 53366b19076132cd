import { type JsonValue, toJson } from "@bufbuild/protobuf";
import { TimestampSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { type Issue, type IssueEvent, IssueEvent_Kind as Kind } from "../../gen/proto/tracker/v1/issue_pb.js";
import { snapshotOf } from "../../src/domain/issues/issue-mapping.js";

// A checker of concurrent histories: given every request a test sent (with
// when it was sent and answered, on one logical clock, and what came back)
// and the event history the server kept, it replays the history serially
// and reports every way in which the outcome is one no serial order of the
// acknowledged requests could produce. Pure: no I/O, so it can be shown to
// reject planted anomalies.

/** The fields an issue's history records, by their names in the contract. */
export const FIELDS = [
  "title",
  "body",
  "state",
  "close_reason",
  "priority",
  "assignee",
  "labels",
  "parent",
  "sub_issue_order",
] as const;
export type Field = (typeof FIELDS)[number];
/** The recorded fields in the history's JSON form (enum names, resource names, null when unset). */
export type Snapshot = Record<Field, JsonValue>;

/** What a response (or GetIssue) said about an issue, in the history's terms. */
export interface IssueView {
  name: string;
  snapshot: Snapshot;
  /** RFC 3339 text, as the history records it; null while not deleted. */
  deleteTime: string | null;
  closeTimeSet: boolean;
  etag: string;
}

export function viewOf(issue: Issue): IssueView {
  return {
    name: issue.name,
    snapshot: snapshotOf(issue),
    deleteTime: issue.deleteTime ? (toJson(TimestampSchema, issue.deleteTime) as string) : null,
    closeTimeSet: issue.closeTime !== undefined,
    etag: issue.etag,
  };
}

export interface HistoryEvent {
  sequence: number;
  issue: string;
  actor: string;
  kind: Kind;
  changes: { field: string; old: JsonValue; new: JsonValue }[];
  comment: string;
}

export function historyEventOf(event: IssueEvent): HistoryEvent {
  const json = (value: IssueEvent["changes"][number]["oldValue"]): JsonValue =>
    value ? toJson(ValueSchema, value) : null;
  return {
    sequence: Number(event.sequence),
    issue: event.issue,
    actor: event.actor,
    kind: event.kind,
    changes: event.changes.map((change) => ({
      field: change.field,
      old: json(change.oldValue),
      new: json(change.newValue),
    })),
    comment: event.comment,
  };
}

/** Why a request failed, from its error and the ErrorInfo it carries. */
export interface Rejection {
  code: Code;
  reason: string;
  /** ErrorInfo's `resource` metadata, e.g. the issue or label that was not found. */
  resource: string;
}

interface OpBase {
  /** Program order: an actor sends its next request only after the previous one was answered. */
  id: number;
  /** `users/{uid}` of the caller. */
  actor: string;
  project: string;
  /** Logical clock readings just before sending and just after the answer arrived. */
  sentAt: number;
  ackAt: number;
  /** Set when the request failed (for a create sent several times: when every copy failed). */
  error?: Rejection;
}

export type Op =
  | (OpBase & {
      kind: "create";
      /** The fields asked for, in the history's form. */
      request: Partial<Snapshot>;
      result?: IssueView;
      /** The answer to every copy of the request (same request_id), in the order sent. */
      replies: (IssueView | Rejection)[];
    })
  | (OpBase & {
      kind: "update";
      issue: string;
      /** The precondition sent; "" for none. */
      etag: string;
      mask: Field[];
      /** The value each masked field must have afterwards. */
      values: Partial<Snapshot>;
      result?: IssueView;
    })
  | (OpBase & { kind: "delete" | "undelete"; issue: string; etag: string; result?: IssueView })
  | (OpBase & { kind: "comment"; issue: string; result?: { comment: string } })
  | (OpBase & { kind: "read"; issue: string; result?: IssueView })
  | (OpBase & { kind: "deleteLabel" | "createLabel"; label: string });

/** What the server holds for one project once the load is over. */
export interface ProjectHistory {
  project: string;
  /** ListIssueEvents of the project, all pages. */
  events: HistoryEvent[];
  /** ListIssueEvents of each issue, all pages. */
  issueEvents: Map<string, HistoryEvent[]>;
  /** ListIssues with show_deleted, all pages. */
  listed: string[];
  /** GetIssue of each issue. */
  final: Map<string, IssueView>;
}

/** One state of an issue in the serial replay: after its creation, and after each change. */
interface Version {
  issue: string;
  index: number;
  snapshot: Snapshot;
  deleteTime: string | null;
  event: HistoryEvent;
  /** The etag acknowledged responses gave this version, and which request said so. */
  etag?: string;
  etagBy?: number;
}

const KIND_NAMES: Record<number, string> = {
  [Kind.ISSUE_CREATED]: "ISSUE_CREATED",
  [Kind.ISSUE_UPDATED]: "ISSUE_UPDATED",
  [Kind.ISSUE_DELETED]: "ISSUE_DELETED",
  [Kind.ISSUE_UNDELETED]: "ISSUE_UNDELETED",
  [Kind.COMMENT_CREATED]: "COMMENT_CREATED",
  [Kind.COMMENT_UPDATED]: "COMMENT_UPDATED",
  [Kind.COMMENT_DELETED]: "COMMENT_DELETED",
};
const EXPECTED_KIND: Record<Op["kind"], Kind | undefined> = {
  read: undefined,
  createLabel: undefined,
  create: Kind.ISSUE_CREATED,
  update: Kind.ISSUE_UPDATED,
  delete: Kind.ISSUE_DELETED,
  undelete: Kind.ISSUE_UNDELETED,
  comment: Kind.COMMENT_CREATED,
  deleteLabel: Kind.ISSUE_UPDATED,
};

const json = (value: unknown) => JSON.stringify(value);
const same = (a: unknown, b: unknown) => json(a) === json(b);
const isRejection = (reply: IssueView | Rejection): reply is Rejection => "code" in reply;
const describe = (op: Op) =>
  `#${op.id} ${op.kind}${"issue" in op ? ` ${op.issue}` : ""}${"label" in op ? ` ${op.label}` : ""}${
    "etag" in op && op.etag !== "" ? ` if-etag ${op.etag}` : ""
  } by ${op.actor}`;

/**
 * Every violation of serializability the history and the recorded requests
 * show, as readable sentences; empty when some serial order of exactly the
 * acknowledged mutations, consistent with real time, produces the history,
 * every response and the final state.
 */
export function checkSerializable(histories: ProjectHistory[], ops: Op[]): string[] {
  const violations: string[] = [];
  const fail = (message: string) => {
    if (violations.length < 200) violations.push(message);
  };
  const versions = new Map<string, Version[]>();
  /** The request each event belongs to. */
  const opOfEvent = new Map<HistoryEvent, Op>();
  const versionOfEvent = new Map<HistoryEvent, Version>();

  // 1. Each project's history: gapless, replayable, and what GetIssue says.
  for (const history of histories) replayProject(history, versions, versionOfEvent, fail);

  // 2. Attribution: each actor's acknowledged mutations, in the order it sent
  // them, are exactly its events, in history order; rejected requests have none.
  for (const history of histories) {
    const byActor = new Map<string, Op[]>();
    for (const op of ops) {
      if (op.project !== history.project) continue;
      byActor.set(op.actor, [...(byActor.get(op.actor) ?? []), op]);
    }
    const eventsByActor = new Map<string, HistoryEvent[]>();
    for (const event of history.events) {
      eventsByActor.set(event.actor, [...(eventsByActor.get(event.actor) ?? []), event]);
    }
    for (const [actor, events] of eventsByActor) {
      const actorOps = [...(byActor.get(actor) ?? [])].sort((a, b) => a.id - b.id);
      attribute(history, actorOps, events, opOfEvent, fail);
    }
    for (const [actor, actorOps] of byActor) {
      if (eventsByActor.has(actor)) continue;
      for (const op of actorOps) {
        if (producesEvent(op) === "always") fail(`${describe(op)} was acknowledged but left no event`);
      }
    }
  }

  // 3. Each acknowledged change: its response is the replayed state right
  // after its event, and it did what it asked.
  const preconditions: { op: Op; etag: string; version: Version }[] = [];
  for (const [event, op] of opOfEvent) {
    const version = versionOfEvent.get(event);
    if (op.kind === "deleteLabel" || op.kind === "comment" || !version) continue;
    if (!("result" in op) || !op.result) continue;
    compareView(op.result, version, `the response to ${describe(op)}`, fail);
    bindEtag(version, op.result.etag, op.id, fail);
    const before = versions.get(version.issue)?.[version.index - 1];
    if (op.kind === "create") {
      for (const reply of op.replies) {
        if (!isRejection(reply) && !same(reply, op.result)) {
          fail(`${describe(op)}: copies of one request_id got different issues: ${json(reply)}`);
        }
      }
      for (const [field, value] of Object.entries(op.request)) {
        if (!same(version.snapshot[field as Field], value)) {
          fail(
            `${describe(op)} asked for ${field} ${json(value)} but filed ${json(version.snapshot[field as Field])}`,
          );
        }
      }
    }
    if (op.kind === "update") {
      for (const field of op.mask) {
        if (!same(version.snapshot[field], op.values[field])) {
          fail(
            `${describe(op)} set ${field} to ${json(op.values[field])} but its event made it ${json(version.snapshot[field])}`,
          );
        }
      }
      if (before && before.deleteTime !== null) {
        fail(`${describe(op)} changed ${version.issue} while it was deleted`);
      }
    }
    if ("etag" in op && op.etag !== "" && before) preconditions.push({ op, etag: op.etag, version: before });
  }

  // 4. Etags: one per version and new for each; a conditional change applied
  // to the version it named, and no two changes applied to the same one.
  const etagOwners = new Map<string, Version>();
  for (const [, issueVersions] of versions) {
    for (const version of issueVersions) {
      if (version.etag === undefined) continue;
      const key = `${version.issue}|${version.etag}`;
      const other = etagOwners.get(key);
      if (other) {
        fail(
          `${version.issue}: versions ${other.index} and ${version.index} have the same etag ${version.etag}`,
        );
      }
      etagOwners.set(key, version);
    }
  }
  const winners = new Map<string, Op>();
  for (const { op, etag, version } of preconditions) {
    const key = `${version.issue}|${etag}`;
    const other = winners.get(key);
    if (other) fail(`${describe(op)} and ${describe(other)} were both acknowledged on precondition ${etag}`);
    winners.set(key, op);
    if (version.etag !== undefined && version.etag !== etag) {
      fail(
        `${describe(op)} was applied to version ${version.index} of ${version.issue}, whose etag was ${version.etag}`,
      );
    }
    const owner = etagOwners.get(key);
    if (version.etag === undefined && owner && owner !== version) {
      fail(
        `${describe(op)} was applied to version ${version.index}, but its etag names version ${owner.index}`,
      );
    }
  }
  for (const history of histories) {
    for (const [name, view] of history.final) {
      const last = versions.get(name)?.at(-1);
      if (!last) continue;
      if (last.etag !== undefined && last.etag !== view.etag) {
        fail(
          `GetIssue ${name} has etag ${view.etag}, but its last change was acknowledged with ${last.etag}`,
        );
      }
      const owner = etagOwners.get(`${name}|${view.etag}`);
      if (owner && owner !== last) fail(`GetIssue ${name} has the etag of its version ${owner.index}`);
    }
  }

  // 5. What changed nothing: reads and conditional updates that were no-ops
  // saw a version that was current at some moment while they ran.
  const windowOf = (version: Version | undefined) => {
    const op = version && opOfEvent.get(version.event);
    return op ? { sentAt: op.sentAt, ackAt: op.ackAt } : { sentAt: -Infinity, ackAt: Infinity };
  };
  const possiblyCurrent = (issue: string, op: Op) =>
    (versions.get(issue) ?? []).filter((version, index, all) => {
      const next = all[index + 1];
      return windowOf(version).sentAt < op.ackAt && (!next || windowOf(next).ackAt > op.sentAt);
    });
  for (const op of ops) {
    if (op.error) continue;
    const noop = op.kind === "update" && op.etag !== "" && op.result?.etag === op.etag;
    if (op.kind !== "read" && !noop) continue;
    const view = op.kind === "read" || op.kind === "update" ? op.result : undefined;
    if (!view) continue;
    const candidates = possiblyCurrent(view.name, op).filter((version) => {
      const owner = etagOwners.get(`${version.issue}|${view.etag}`);
      if (version.etag !== undefined ? version.etag !== view.etag : owner !== undefined) return false;
      if (!same(version.snapshot, view.snapshot) || version.deleteTime !== view.deleteTime) return false;
      return (
        op.kind !== "update" || op.mask.every((field) => same(version.snapshot[field], op.values[field]))
      );
    });
    if (candidates.length === 0) {
      fail(`${describe(op)} answered ${json(view)}, which is no version current while it ran`);
    }
  }

  // 6. Rejections: each one is explained by some state current while it ran.
  const labelOps = ops.filter((op) => op.kind === "deleteLabel" || op.kind === "createLabel");
  const labelAbsent = (project: string, label: string) => {
    // While a label is deleted: from its DeleteLabel to the next CreateLabel of the same name.
    const spans: { from: Op; to?: Op }[] = [];
    for (const op of labelOps) {
      if (op.project !== project || !("label" in op) || op.label !== label || op.error) continue;
      if (op.kind === "deleteLabel") spans.push({ from: op });
      else {
        const open = spans.at(-1);
        if (open && !open.to) open.to = op;
      }
    }
    return spans;
  };
  for (const op of ops) {
    const rejections = op.kind === "create" ? op.replies.filter(isRejection) : op.error ? [op.error] : [];
    for (const rejection of rejections) checkRejection(op, rejection);
    // An acknowledged request that carried a label must have run while it existed.
    const labels =
      op.error || !(op.kind === "create" || (op.kind === "update" && op.mask.includes("labels")))
        ? []
        : (((op.kind === "create" ? op.request.labels : op.values.labels) as string[] | undefined) ?? []);
    for (const label of labels) {
      for (const span of labelAbsent(op.project, label)) {
        if (span.from.ackAt < op.sentAt && (!span.to || span.to.sentAt > op.ackAt)) {
          fail(`${describe(op)} was acknowledged with ${label}, which was deleted all the while it ran`);
        }
      }
    }
  }

  function checkRejection(op: Op, rejection: Rejection) {
    const what = `${describe(op)} was refused ${Code[rejection.code]} ${rejection.reason}`;
    const issue = "issue" in op ? op.issue : undefined;
    const current = issue ? possiblyCurrent(issue, op) : [];
    if (rejection.code === Code.Aborted && rejection.reason === "ETAG_MISMATCH" && "etag" in op && issue) {
      if (op.etag === "") fail(`${what} without sending an etag`);
      else if (current.every((version) => version.etag === op.etag)) {
        fail(`${what}, but the issue's etag was ${op.etag} all the while`);
      }
      return;
    }
    if (rejection.code === Code.FailedPrecondition && issue) {
      const deleted = rejection.reason === "ISSUE_DELETED";
      if (rejection.reason !== "ISSUE_DELETED" && rejection.reason !== "ISSUE_NOT_DELETED") {
        fail(`${what}: unexpected reason`);
      } else if (!current.some((version) => (version.deleteTime !== null) === deleted)) {
        fail(`${what}, but the issue was ${deleted ? "not deleted" : "deleted"} all the while`);
      }
      return;
    }
    if (rejection.code === Code.NotFound && rejection.resource.includes("/labels/")) {
      const spans = labelAbsent(op.project, rejection.resource);
      if (!spans.some((span) => span.from.sentAt < op.ackAt && (!span.to || span.to.ackAt > op.sentAt))) {
        fail(`${what} for ${rejection.resource}, which existed all the while`);
      }
      return;
    }
    if (rejection.code === Code.NotFound && issue && rejection.resource === issue) {
      const created = versions.get(issue)?.[0];
      if (created && windowOf(created).ackAt < op.sentAt) fail(`${what}, but ${issue} had been filed before`);
      return;
    }
    if (
      rejection.code === Code.InvalidArgument &&
      rejection.reason === "CLOSE_REASON_NOT_ALLOWED" &&
      op.kind === "update" &&
      issue
    ) {
      if (current.every((version) => version.snapshot.state === "STATE_CLOSED")) {
        fail(`${what}, but the issue was closed all the while`);
      }
      return;
    }
    fail(`${what} (${rejection.resource}): not an outcome any serial order explains`);
  }

  // 7. Real time: a change acknowledged before another was sent comes first
  // in the history (the serial order is also one real time allows).
  for (const history of histories) {
    let latest: { op: Op; event: HistoryEvent } | undefined;
    for (const event of history.events) {
      const op = opOfEvent.get(event);
      if (!op) continue;
      if (latest && latest.op !== op && op.ackAt < latest.op.sentAt) {
        fail(
          `${history.project}: event ${event.sequence} (${describe(op)}, answered at ${op.ackAt}) comes after event ${latest.event.sequence} (${describe(latest.op)}, sent only at ${latest.op.sentAt})`,
        );
      }
      if (!latest || op.sentAt > latest.op.sentAt) latest = { op, event };
    }
  }

  return violations;

  function attribute(
    history: ProjectHistory,
    actorOps: Op[],
    events: HistoryEvent[],
    owners: Map<HistoryEvent, Op>,
    report: (message: string) => void,
  ) {
    let next = 0;
    for (const op of actorOps) {
      const produces = producesEvent(op);
      if (produces === "never") continue;
      if (op.kind === "deleteLabel") {
        // Its events: the label taken off every issue that carried it, in one
        // run of sequence numbers, after which no issue carries it.
        const block: HistoryEvent[] = [];
        while (next < events.length) {
          const event = events[next] as HistoryEvent;
          const previous = block.at(-1);
          if (previous && event.sequence !== previous.sequence + 1) break;
          if (!removesOnly(event, op.label)) break;
          block.push(event);
          owners.set(event, op);
          next++;
        }
        const last = block.at(-1);
        if (last) {
          for (const [issue, issueVersions] of versions) {
            if (!issue.startsWith(`${history.project}/`)) continue;
            const current = issueVersions.filter((version) => version.event.sequence <= last.sequence).at(-1);
            if (current && (current.snapshot.labels as string[]).includes(op.label)) {
              report(
                `${describe(op)}: ${issue} still carried the label after its events (to ${last.sequence})`,
              );
            }
          }
        }
        continue;
      }
      // Align: an event that fits none of the actor's remaining requests is a
      // phantom; a request whose event comes later or never has lost it.
      for (;;) {
        const event = events[next];
        if (event !== undefined && fits(op, event)) {
          owners.set(event, op);
          next++;
          break;
        }
        const later = actorOps.slice(actorOps.indexOf(op) + 1);
        if (
          event !== undefined &&
          !later.some((other) => producesEvent(other) !== "never" && fits(other, event))
        ) {
          report(phantom(history, event));
          next++;
          continue;
        }
        report(
          `${describe(op)} was acknowledged, but the actor's next event is ${
            event ? `${event.sequence} (${KIND_NAMES[event.kind]} of ${event.issue})` : "none"
          }: a lost or misplaced write`,
        );
        break;
      }
    }
    for (const event of events.slice(next)) report(phantom(history, event));
  }

  function fits(op: Op, event: HistoryEvent): boolean {
    if (op.kind === "deleteLabel") return removesOnly(event, op.label);
    const issue = op.kind === "create" ? op.result?.name : "issue" in op ? op.issue : undefined;
    return (
      event.kind === EXPECTED_KIND[op.kind] &&
      event.issue === issue &&
      (op.kind !== "comment" || event.comment === op.result?.comment)
    );
  }

  function phantom(history: ProjectHistory, event: HistoryEvent) {
    return `${history.project}: event ${event.sequence} (${KIND_NAMES[event.kind]} of ${event.issue} by ${event.actor}) belongs to no acknowledged request: a rejected, duplicated or phantom write`;
  }
}

/** Whether an op, by its outcome, must have left events ("always"), none, or a number ("some"). */
function producesEvent(op: Op): "always" | "never" | "some" {
  if (op.kind === "read" || op.kind === "createLabel") return "never";
  if (op.kind === "create") return op.result ? "always" : "never";
  if (op.error) return "never";
  if (op.kind === "deleteLabel") return "some";
  // A conditional update that changed nothing answers its own etag, and makes no event.
  if (op.kind === "update" && op.etag !== "" && op.result?.etag === op.etag) return "never";
  return "always";
}

function removesOnly(event: HistoryEvent, label: string): boolean {
  const [change, ...others] = event.changes;
  if (event.kind !== Kind.ISSUE_UPDATED || !change || others.length > 0 || change.field !== "labels")
    return false;
  const old = change.old as string[];
  return (
    old.includes(label) &&
    same(
      change.new,
      old.filter((name) => name !== label),
    )
  );
}

function compareView(view: IssueView, version: Version, what: string, fail: (message: string) => void) {
  if (view.name !== version.issue) fail(`${what} names ${view.name}, not ${version.issue}`);
  if (!same(view.snapshot, version.snapshot)) {
    fail(
      `${what} is ${json(view.snapshot)}, but the replay gives ${json(version.snapshot)} (version ${version.index})`,
    );
  }
  if (view.deleteTime !== version.deleteTime) {
    fail(`${what} has delete_time ${view.deleteTime}, but the replay gives ${version.deleteTime}`);
  }
  if (view.closeTimeSet !== (view.snapshot.state === "STATE_CLOSED")) {
    fail(`${what} has ${view.closeTimeSet ? "a" : "no"} close_time in state ${view.snapshot.state}`);
  }
}

function bindEtag(version: Version, etag: string, opId: number, fail: (message: string) => void) {
  if (version.etag !== undefined && version.etag !== etag) {
    fail(
      `version ${version.index} of ${version.issue} was answered with etag ${version.etag} (#${version.etagBy}) and ${etag} (#${opId})`,
    );
  }
  version.etag ??= etag;
  version.etagBy ??= opId;
}

function replayProject(
  history: ProjectHistory,
  versions: Map<string, Version[]>,
  versionOfEvent: Map<HistoryEvent, Version>,
  fail: (message: string) => void,
) {
  const { project } = history;
  let filed = 0;
  history.events.forEach((event, position) => {
    if (event.sequence !== position + 1) {
      fail(
        `${project}: event ${position + 1} of the history has sequence ${event.sequence} (a gap or duplicate)`,
      );
    }
    const at = `${project} event ${event.sequence} (${KIND_NAMES[event.kind] ?? event.kind} of ${event.issue})`;
    const issueVersions = versions.get(event.issue);
    const current = issueVersions?.at(-1);
    const push = (snapshot: Snapshot, deleteTime: string | null) => {
      const list = versions.get(event.issue) ?? [];
      const version: Version = { issue: event.issue, index: list.length, snapshot, deleteTime, event };
      list.push(version);
      versions.set(event.issue, list);
      versionOfEvent.set(event, version);
      if ((snapshot.state === "STATE_CLOSED") !== (snapshot.close_reason !== null)) {
        fail(`${at}: leaves state ${json(snapshot.state)} with close_reason ${json(snapshot.close_reason)}`);
      }
    };
    const apply = (base: Snapshot) => {
      const snapshot = { ...base };
      if (event.changes.length === 0) fail(`${at}: changes nothing`);
      for (const change of event.changes) {
        if (!(FIELDS as readonly string[]).includes(change.field)) {
          fail(`${at}: changes the unknown field ${change.field}`);
          continue;
        }
        const field = change.field as Field;
        if (!same(change.old, snapshot[field])) {
          fail(
            `${at}: ${field} was ${json(snapshot[field])}, but the event changes it from ${json(change.old)} (a lost or reordered update)`,
          );
        }
        if (same(change.old, change.new)) fail(`${at}: ${field} "changes" to the value it had`);
        snapshot[field] = change.new;
      }
      return snapshot;
    };
    switch (event.kind) {
      case Kind.ISSUE_CREATED: {
        if (current) {
          fail(`${at}: ${event.issue} was filed before`);
          return;
        }
        filed += 1;
        if (event.issue !== `${project}/issues/${filed}`) {
          fail(`${at}: filing number ${filed} of the project must be ${project}/issues/${filed}`);
        }
        const empty = Object.fromEntries(FIELDS.map((field) => [field, null])) as Snapshot;
        const snapshot = apply(empty);
        for (const field of ["title", "body", "state", "priority", "labels"] as const) {
          if (snapshot[field] === null) fail(`${at}: files the issue without ${field}`);
        }
        push(snapshot, null);
        return;
      }
      case Kind.ISSUE_UPDATED:
        if (!current) fail(`${at}: changes an issue never filed`);
        else push(apply(current.snapshot), current.deleteTime);
        return;
      case Kind.ISSUE_DELETED:
      case Kind.ISSUE_UNDELETED: {
        if (!current) {
          fail(`${at}: changes an issue never filed`);
          return;
        }
        const deleting = event.kind === Kind.ISSUE_DELETED;
        const [change, ...others] = event.changes;
        if (
          !change ||
          others.length > 0 ||
          change.field !== "delete_time" ||
          change.old !== current.deleteTime ||
          (current.deleteTime === null) !== deleting ||
          (deleting ? typeof change.new !== "string" : change.new !== null)
        ) {
          fail(`${at}: records ${json(event.changes)} while delete_time was ${json(current.deleteTime)}`);
        }
        push(current.snapshot, deleting ? String(change?.new) : null);
        return;
      }
      case Kind.COMMENT_CREATED:
        if (!current) fail(`${at}: comments on an issue never filed`);
        else if (current.deleteTime !== null) fail(`${at}: comments on a deleted issue`);
        if (!event.comment.startsWith(`${event.issue}/comments/`))
          fail(`${at}: names comment ${event.comment}`);
        return;
      default:
        fail(`${at}: an event of a kind this workload never causes`);
    }
  });

  // Each issue's own history is its part of the project's, and GetIssue and
  // ListIssues show what the replay ends with.
  const names = [...versions.keys()].filter((name) => name.startsWith(`${project}/issues/`));
  for (const name of names) {
    const own = history.events.filter((event) => event.issue === name);
    if (!same(history.issueEvents.get(name) ?? [], own)) {
      fail(`${name}: ListIssueEvents of the issue differs from its events in the project's history`);
    }
    const last = versions.get(name)?.at(-1);
    const view = history.final.get(name);
    if (!view) fail(`${name}: filed in the history, but GetIssue did not return it`);
    else if (last) compareView(view, last, `GetIssue ${name}`, fail);
  }
  for (const name of history.issueEvents.keys()) {
    if (!names.includes(name)) fail(`${name}: has a history of its own but no ISSUE_CREATED event`);
  }
  const expected = Array.from({ length: filed }, (_, index) => `${project}/issues/${index + 1}`);
  const listed = [...history.listed].sort((a, b) => Number(a.split("/").pop()) - Number(b.split("/").pop()));
  if (!same(listed, expected)) {
    fail(`${project}: ListIssues (show_deleted) has ${json(listed)}, the history files ${json(expected)}`);
  }
}
