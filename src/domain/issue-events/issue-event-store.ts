import { clone, create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Kysely, type Selectable, sql } from "kysely";
import type { DB, IssueEvents } from "../../../gen/db.js";
import {
  type FieldChange,
  type IssueEvent,
  IssueEventSchema,
  IssueEvent_Kind as Kind,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import { commentName, issueName, projectKeyOf, relationName, userName } from "../shared/names.js";
import { fitting, pageBytes, pageOf, withinPageBytes } from "../shared/pagination.js";
import { timestampFromPg } from "../shared/timestamps.js";

export type EventRow = Selectable<IssueEvents>;

/** The database's event kinds as the API's. */
export const KINDS: Record<EventRow["kind"], Kind> = {
  issue_created: Kind.ISSUE_CREATED,
  issue_updated: Kind.ISSUE_UPDATED,
  issue_deleted: Kind.ISSUE_DELETED,
  issue_undeleted: Kind.ISSUE_UNDELETED,
  comment_created: Kind.COMMENT_CREATED,
  comment_updated: Kind.COMMENT_UPDATED,
  comment_deleted: Kind.COMMENT_DELETED,
  relation_created: Kind.RELATION_CREATED,
  relation_deleted: Kind.RELATION_DELETED,
};

interface StoredChange {
  field: string;
  old: JsonValue;
  new: JsonValue;
}

export function toIssueEvent(row: EventRow, projectKey: string): IssueEvent {
  const changes = row.changes as unknown as StoredChange[];
  return create(IssueEventSchema, {
    sequence: BigInt(row.sequence),
    issue: issueName(projectKey, row.issue_number),
    actor: userName(row.actor_uid),
    createTime: timestampFromPg(row.create_time),
    kind: KINDS[row.kind],
    changes: changes.map((change) => ({
      field: change.field,
      oldValue: fromJson(ValueSchema, change.old),
      newValue: fromJson(ValueSchema, change.new),
    })),
    comment: row.comment_uid === null ? "" : commentName(projectKey, row.issue_number, row.comment_uid),
    relation: row.relation_uid === null ? "" : relationName(projectKey, row.issue_number, row.relation_uid),
  });
}

/** The key of the other project whose issue the relation change `change` of an event of `ownKey` names, if any. */
function otherProjectOf(change: FieldChange, ownKey: string): string | undefined {
  if (change.field !== "related_issue") return undefined;
  for (const value of [change.oldValue, change.newValue]) {
    if (value?.kind.case === "stringValue" && value.kind.value !== "") {
      const key = projectKeyOf(value.kind.value);
      if (key !== ownKey) return key;
    }
  }
  return undefined;
}

const isRelationEvent = (event: IssueEvent) =>
  event.kind === Kind.RELATION_CREATED || event.kind === Kind.RELATION_DELETED;

/**
 * The event with the issue a relation event relates to left unnamed (its
 * `related_issue` an empty string) when that issue is in another project,
 * not one of `readable` (by key): a reader learns of no issue, nor project,
 * that they could not read, as ListIssueRelations shows them no relation to
 * it. The event itself, when nothing is hidden.
 */
export function hidingUnreadableIssues(event: IssueEvent, readable: ReadonlySet<string>): IssueEvent {
  if (!isRelationEvent(event)) return event;
  const ownKey = projectKeyOf(event.issue);
  const hidden = (change: FieldChange) => {
    const key = otherProjectOf(change, ownKey);
    return key !== undefined && !readable.has(key);
  };
  if (!event.changes.some(hidden)) return event;
  const redacted = clone(IssueEventSchema, event);
  for (const change of redacted.changes.filter(hidden)) {
    for (const side of ["oldValue", "newValue"] as const) {
      if (change[side]?.kind.case === "stringValue") change[side].kind.value = "";
    }
  }
  return redacted;
}

/**
 * The events as the user `userUid` may see them (hidingUnreadableIssues),
 * with one query for the projects they name, and none when they name no
 * other project's issue.
 */
export async function eventsAsSeenBy(
  db: Kysely<DB>,
  userUid: string,
  events: IssueEvent[],
): Promise<IssueEvent[]> {
  const others = new Set(
    events.filter(isRelationEvent).flatMap((event) => {
      const ownKey = projectKeyOf(event.issue);
      return event.changes.flatMap((change) => otherProjectOf(change, ownKey) ?? []);
    }),
  );
  if (others.size === 0) return events;
  // A member, whatever the role, reads the project's issues (as relation-store's reads).
  const rows = await db
    .selectFrom("projects")
    .innerJoin("members", "members.project_uid", "projects.uid")
    .select("projects.key")
    .where("members.user_uid", "=", userUid)
    .where("projects.key", "in", [...others])
    .execute();
  const readable = new Set(rows.map((row) => row.key));
  return events.map((event) => hidingUnreadableIssues(event, readable));
}

/**
 * Events of a project after `sequence`, oldest first, with the project's
 * access revision read in the same snapshot: a change of access committed
 * before any of these events (which takes the same row lock) is counted in it.
 */
export async function eventsAfter(
  db: Kysely<DB>,
  projectUid: string,
  sequence: string,
  limit: number,
): Promise<{ accessRevision: number; events: EventRow[]; more: boolean }> {
  // At most `limit` events and PAGE_BYTES of their changes (always one), as a
  // page of ListIssueEvents: a replay of large edits must not read tens of
  // megabytes at once. One more row is fetched to tell whether more follow.
  const batch = db
    .selectFrom("issue_events")
    .selectAll()
    .select(pageBytes(sql`coalesce(changes_bytes, octet_length(changes::text))`, sql`sequence`))
    .where("project_uid", "=", projectUid)
    .where("sequence", ">", sequence)
    .orderBy("sequence")
    .limit(limit + 1);
  const rows = await db
    .selectFrom("projects")
    .leftJoin(
      (eb) => eb.selectFrom(batch.as("batch")).selectAll().where(withinPageBytes("batch")).as("event"),
      (join) => join.onTrue(),
    )
    .select("projects.access_revision")
    .selectAll("event")
    .where("projects.uid", "=", projectUid)
    .orderBy("event.sequence")
    .execute();
  // No events: one row whose event columns are all null (a left join's are null together or not at all).
  const events = rows.flatMap(({ access_revision: _, ...event }) =>
    event.sequence === null ? [] : [event as EventRow],
  );
  const { fit, more } = fitting(events, limit);
  return { accessRevision: rows[0]?.access_revision ?? 0, events: fit, more };
}

const isCursor = (value: unknown): value is string => typeof value === "string" && /^\d+$/.test(value);

/** ListIssueEvents: the history of one issue (issueUid set) or of the whole project, as `readerUid` may see it. */
export async function listIssueEvents(
  db: Kysely<DB>,
  readerUid: string,
  project: { uid: string; key: string },
  issueUid: string | undefined,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListIssueEvents", parent: request.parent };
  const keyset = { isCursor, cursorOf: (row: EventRow) => row.sequence };
  const { page, nextPageToken } = await pageOf(request, query, keyset, (limit, after) => {
    let select = db
      .selectFrom("issue_events")
      .selectAll()
      // The changes carry old and new values, a body each; their size was
      // counted on write (on read for events older than that column).
      .select(pageBytes(sql`coalesce(changes_bytes, octet_length(changes::text))`, sql`sequence`))
      .where("project_uid", "=", project.uid)
      .where("sequence", ">", after ?? "0")
      .orderBy("sequence")
      .limit(limit);
    if (issueUid) select = select.where("issue_uid", "=", issueUid);
    return db
      .selectFrom(select.as("event"))
      .selectAll()
      .where(withinPageBytes("event"))
      .orderBy("event.page_place")
      .execute();
  });
  const events = page.map((row) => toIssueEvent(row, project.key));
  return { events: await eventsAsSeenBy(db, readerUid, events), nextPageToken };
}
