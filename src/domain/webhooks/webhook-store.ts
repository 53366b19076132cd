import { type Kysely, sql, type Transaction } from "kysely";
import type { DB, IssueEventKind, WebhookDeliveryState } from "../../../gen/db.js";
import { DomainError, notFound } from "../errors.js";
import type { EventRow } from "../issue-events/issue-event-store.js";
import type { NewRevision } from "../shared/etag.js";
import { lastSegmentOf } from "../shared/names.js";
import {
  afterPair,
  type PairCursor,
  pageBytes,
  pageOf,
  pairKeyset,
  withinPageBytes,
} from "../shared/pagination.js";
import type { DeliveryRow, WebhookRow } from "./webhook-mapping.js";

/** Webhooks a project may have (GitHub allows 20 per repository and event). */
export const MAX_WEBHOOKS_PER_PROJECT = 20;
/**
 * Deliveries a webhook may have waiting. An event past it is recorded as a
 * failed delivery (to be redelivered once the endpoint is back) instead of
 * queued: an endpoint that is down for long makes no unbounded backlog, and
 * never holds up the change that made the event.
 */
export const MAX_PENDING_DELIVERIES = 10_000;

/** The channel a queued delivery is announced on, to wake the delivery workers of every process. */
export const WEBHOOK_DELIVERIES_CHANNEL = "tracker_webhook_deliveries";

/** is UUID text: a name whose id is not one is NOT_FOUND, not a database error. */
const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);

function selectWebhooks(db: Kysely<DB>) {
  return db
    .selectFrom("webhooks")
    .select(["uid", "project_uid", "url", "secret", "active", "create_time", "update_time", "revision"])
    .select(sql<IssueEventKind[]>`event_kinds::text[]`.as("event_kinds"));
}

/** The webhook `name` of the project; NOT_FOUND when there is none. */
export async function findWebhook(db: Kysely<DB>, projectUid: string, name: string): Promise<WebhookRow> {
  const uid = lastSegmentOf(name);
  const row = isUuid(uid)
    ? await selectWebhooks(db).where("project_uid", "=", projectUid).where("uid", "=", uid).executeTakeFirst()
    : undefined;
  if (!row) throw notFound(name);
  return row;
}

/** The webhook `name` of a project the transaction holds locked, locked for a change. */
export async function lockWebhook(
  tx: Transaction<DB>,
  projectUid: string,
  name: string,
): Promise<WebhookRow> {
  const uid = lastSegmentOf(name);
  const row = isUuid(uid)
    ? await selectWebhooks(tx)
        .where("project_uid", "=", projectUid)
        .where("uid", "=", uid)
        .forUpdate()
        .executeTakeFirst()
    : undefined;
  if (!row) throw notFound(name);
  return row;
}

/** A new webhook of the locked project; RESOURCE_EXHAUSTED when it has as many as it may. */
export async function insertWebhook(
  tx: Transaction<DB>,
  projectUid: string,
  fields: Pick<WebhookRow, "url" | "secret" | "event_kinds" | "active">,
): Promise<WebhookRow> {
  const { count } = await tx
    .selectFrom("webhooks")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("project_uid", "=", projectUid)
    .executeTakeFirstOrThrow();
  if (Number(count) >= MAX_WEBHOOKS_PER_PROJECT) {
    throw new DomainError(
      "resource_exhausted",
      "TOO_MANY_WEBHOOKS",
      `a project may have ${MAX_WEBHOOKS_PER_PROJECT} webhooks; delete one first`,
      { limit: String(MAX_WEBHOOKS_PER_PROJECT) },
    );
  }
  const { uid } = await tx
    .insertInto("webhooks")
    .values({ project_uid: projectUid, ...fields })
    .returning("uid")
    .executeTakeFirstOrThrow();
  return selectWebhooks(tx).where("uid", "=", uid).executeTakeFirstOrThrow();
}

/** Writes `changes` to the locked webhook `uid`, as its next revision. */
export async function writeWebhook(
  tx: Transaction<DB>,
  uid: string,
  changes: Partial<Pick<WebhookRow, "url" | "secret" | "event_kinds" | "active">>,
  revision: NewRevision,
): Promise<WebhookRow> {
  await tx
    .updateTable("webhooks")
    .set({ ...changes, ...revision })
    .where("uid", "=", uid)
    .execute();
  return selectWebhooks(tx).where("uid", "=", uid).executeTakeFirstOrThrow();
}

/** Deletes the locked webhook `uid`; its deliveries go with it (ON DELETE CASCADE). */
export async function deleteWebhookRow(tx: Transaction<DB>, uid: string): Promise<void> {
  await tx.deleteFrom("webhooks").where("uid", "=", uid).execute();
}

/** A page of a project's webhooks, oldest first. */
export function pageOfWebhooks(
  db: Kysely<DB>,
  projectUid: string,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListWebhooks", parent: request.parent };
  const keyset = pairKeyset((row: WebhookRow): PairCursor => [row.create_time, row.uid]);
  // At most MAX_WEBHOOKS_PER_PROJECT rows of at most 2 KiB: no byte bound needed.
  return pageOf(request, query, keyset, (limit, after) => {
    let select = selectWebhooks(db)
      .where("project_uid", "=", projectUid)
      .orderBy("create_time")
      .orderBy("uid")
      .limit(limit);
    if (after) select = select.where(afterPair("create_time", "uid", after));
    return select.execute();
  });
}

/**
 * The outbox: the statement that queues the project's new event for each of
 * its active webhooks that wants its kind, returning each row's `state`. It
 * runs in the transaction that writes the event (which holds the project
 * locked), so a delivery exists exactly when the event does; appendIssueEvent
 * runs it as a CTE of the statement that announces the event, so webhooks
 * cost an event no round trip of its own.
 */
export function queueDeliveries(event: { projectUid: string; sequence: string; kind: IssueEventKind }) {
  return sql<{ state: WebhookDeliveryState }>`
    INSERT INTO webhook_deliveries (webhook_uid, project_uid, event_sequence, state, next_attempt_time, last_error)
    SELECT w.uid, w.project_uid, ${event.sequence},
           CASE WHEN backlog.full THEN 'failed' ELSE 'pending' END::webhook_delivery_state,
           CASE WHEN backlog.full THEN NULL ELSE now() END,
           CASE WHEN backlog.full THEN ${backlogFullError} END
    FROM webhooks w
    CROSS JOIN LATERAL (${backlogFull(sql`w.uid`)}) backlog
    WHERE w.project_uid = ${event.projectUid}
      AND w.active
      AND ${event.kind}::issue_event_kind = ANY (w.event_kinds)
    RETURNING state`;
}

const backlogFullError = `not sent: the webhook already had ${MAX_PENDING_DELIVERIES} deliveries waiting; redeliver it once the endpoint is back`;

/** One row, `full`: whether the webhook has MAX_PENDING_DELIVERIES waiting (counting no further). */
const backlogFull = (webhookUid: ReturnType<typeof sql>) => sql`
  SELECT count(*) >= ${MAX_PENDING_DELIVERIES} AS full
  FROM (SELECT 1 FROM webhook_deliveries d
        WHERE d.webhook_uid = ${webhookUid} AND d.state = 'pending'
        LIMIT ${MAX_PENDING_DELIVERIES}) waiting`;

/** A delivery of the webhook, with its event; NOT_FOUND when there is none. */
export async function findDelivery(db: Kysely<DB>, webhookUid: string, name: string): Promise<DeliveryRow> {
  const uid = lastSegmentOf(name);
  const row = isUuid(uid)
    ? await db
        .selectFrom("webhook_deliveries")
        .selectAll()
        .where("webhook_uid", "=", webhookUid)
        .where("uid", "=", uid)
        .executeTakeFirst()
    : undefined;
  if (!row) throw notFound(name);
  return row;
}

/** Queues `delivery`'s event again as a new delivery; RESOURCE_EXHAUSTED when the webhook's queue is full. */
export async function queueRedelivery(tx: Transaction<DB>, delivery: DeliveryRow): Promise<DeliveryRow> {
  const { full } = (
    await sql<{ full: boolean }>`${backlogFull(sql`${delivery.webhook_uid}::uuid`)}`.execute(tx)
  ).rows[0] ?? { full: false };
  if (full) {
    throw new DomainError(
      "resource_exhausted",
      "WEBHOOK_QUEUE_FULL",
      `the webhook has ${MAX_PENDING_DELIVERIES} deliveries waiting; try again once they are sent`,
      { limit: String(MAX_PENDING_DELIVERIES) },
    );
  }
  const row = await tx
    .insertInto("webhook_deliveries")
    .values({
      webhook_uid: delivery.webhook_uid,
      project_uid: delivery.project_uid,
      event_sequence: delivery.event_sequence,
      next_attempt_time: sql<string>`now()`,
      redelivery_of: delivery.uid,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await sql`SELECT pg_notify(${WEBHOOK_DELIVERIES_CHANNEL}, '')`.execute(tx);
  return row;
}

/** The event a delivery sends. */
export function eventOfDelivery(
  db: Kysely<DB>,
  delivery: Pick<DeliveryRow, "project_uid" | "event_sequence">,
): Promise<EventRow> {
  return db
    .selectFrom("issue_events")
    .selectAll()
    .where("project_uid", "=", delivery.project_uid)
    .where("sequence", "=", delivery.event_sequence)
    .executeTakeFirstOrThrow();
}

/** A page of a webhook's deliveries, newest first, each with its event. */
export function pageOfDeliveries(
  db: Kysely<DB>,
  webhookUid: string,
  request: { parent: string; pageSize: number; pageToken: string },
) {
  const query = { method: "ListWebhookDeliveries", parent: request.parent };
  const keyset = pairKeyset((row: DeliveryRow): PairCursor => [row.create_time, row.uid]);
  return pageOf(request, query, keyset, async (limit, after) => {
    let select = db
      .selectFrom("webhook_deliveries as d")
      .selectAll("d")
      .select(
        pageBytes(
          // The event's changes, the kept body and the attempts: the large parts.
          sql`coalesce((SELECT coalesce(e.changes_bytes, octet_length(e.changes::text)) FROM issue_events e
                        WHERE e.project_uid = d.project_uid AND e.sequence = d.event_sequence), 0)
              + coalesce(octet_length(d.last_response_body), 0) + octet_length(d.attempts::text)`,
          sql`d.create_time DESC, d.uid DESC`,
        ),
      )
      .where("d.webhook_uid", "=", webhookUid)
      .orderBy("d.create_time", "desc")
      .orderBy("d.uid", "desc")
      .limit(limit);
    if (after) select = select.where(afterPair("d.create_time", "d.uid", after, "desc"));
    const rows = await db
      .selectFrom(select.as("delivery"))
      .innerJoin("issue_events as e", (join) =>
        join
          .onRef("e.project_uid", "=", "delivery.project_uid")
          .onRef("e.sequence", "=", "delivery.event_sequence"),
      )
      .selectAll("delivery")
      .select([
        "e.sequence as e_sequence",
        "e.issue_uid as e_issue_uid",
        "e.issue_number as e_issue_number",
        "e.actor_uid as e_actor_uid",
        "e.kind as e_kind",
        "e.changes as e_changes",
        "e.comment_uid as e_comment_uid",
        "e.relation_uid as e_relation_uid",
        "e.create_time as e_create_time",
      ])
      .where(withinPageBytes("delivery"))
      .orderBy("delivery.page_place")
      .execute();
    return rows.map((row) => ({
      ...row,
      event: {
        project_uid: row.project_uid,
        sequence: row.e_sequence,
        issue_uid: row.e_issue_uid,
        issue_number: row.e_issue_number,
        actor_uid: row.e_actor_uid,
        kind: row.e_kind,
        changes: row.e_changes,
        changes_bytes: null,
        comment_uid: row.e_comment_uid,
        relation_uid: row.e_relation_uid,
        create_time: row.e_create_time,
      } satisfies EventRow,
    }));
  });
}
