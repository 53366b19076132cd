import { create } from "@bufbuild/protobuf";
import type { Selectable } from "kysely";
import type {
  IssueEventKind,
  Json,
  WebhookDeliveries,
  WebhookDeliveryState,
  Webhooks,
} from "../../../gen/db.js";
import type { IssueEvent_Kind as Kind } from "../../../gen/proto/tracker/v1/issue_pb.js";
import {
  WebhookDelivery_State as DeliveryState,
  type Webhook,
  type WebhookDelivery,
  WebhookDeliverySchema,
  WebhookSchema,
} from "../../../gen/proto/tracker/v1/webhook_pb.js";
import { invalidArgument, required } from "../errors.js";
import {
  type EventRow,
  hidingUnreadableIssues,
  KINDS,
  toIssueEvent,
} from "../issue-events/issue-event-store.js";
import { etagOf } from "../shared/etag.js";
import { timestampFromPg } from "../shared/timestamps.js";
import type { TargetPolicy } from "./webhook-targets.js";
import { addressOfUrl } from "./webhook-targets.js";

/** A webhook row; `event_kinds` read as text[] (pg parses no arrays of enums). */
export type WebhookRow = Omit<Selectable<Webhooks>, "event_kinds"> & { event_kinds: IssueEventKind[] };
export type DeliveryRow = Selectable<WebhookDeliveries>;

export const webhookName = (projectKey: string, uid: string) => `projects/${projectKey}/webhooks/${uid}`;
export const deliveryName = (webhook: string, uid: string) => `${webhook}/deliveries/${uid}`;
/** `projects/P/webhooks/W/deliveries/D` -> `projects/P/webhooks/W` */
export const webhookOfDelivery = (name: string) => name.split("/").slice(0, 4).join("/");

const KIND_OF_API = new Map<Kind, IssueEventKind>(
  Object.entries(KINDS).map(([kind, api]) => [api, kind as IssueEventKind]),
);
const STATES: Record<WebhookDeliveryState, DeliveryState> = {
  pending: DeliveryState.PENDING,
  delivered: DeliveryState.DELIVERED,
  failed: DeliveryState.FAILED,
};

/** The secret's last 4 characters: enough to tell secrets apart, too few to help guess one. */
const hintOf = (secret: string) => secret.slice(-4);

export function toWebhook(projectKey: string, row: WebhookRow): Webhook {
  return create(WebhookSchema, {
    name: webhookName(projectKey, row.uid),
    uid: row.uid,
    url: row.url,
    secretHint: hintOf(row.secret),
    eventTypes: row.event_kinds.map((kind) => KINDS[kind]),
    active: row.active,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: etagOf(row.revision),
  });
}

interface StoredAttempt {
  time: string;
  status_code: number;
  error: string | null;
  duration_ms: number;
}

export function toDelivery(
  webhook: string,
  projectKey: string,
  row: DeliveryRow,
  event: EventRow | undefined,
): WebhookDelivery {
  const attempts = row.attempts as unknown as StoredAttempt[];
  return create(WebhookDeliverySchema, {
    name: deliveryName(webhook, row.uid),
    uid: row.uid,
    // As the payload sent it (delivery-worker's payloadOf).
    ...(event && { event: hidingUnreadableIssues(toIssueEvent(event, projectKey), new Set()) }),
    state: STATES[row.state],
    attemptCount: row.attempt_count,
    lastStatusCode: row.last_status_code ?? 0,
    lastResponseBody: row.last_response_body ?? "",
    lastError: row.last_error ?? "",
    ...(row.state === "pending" &&
      row.next_attempt_time && { nextAttemptTime: timestampFromPg(row.next_attempt_time) }),
    ...(row.delivered_time && { deliveredTime: timestampFromPg(row.delivered_time) }),
    createTime: timestampFromPg(row.create_time),
    redeliveryOf: row.redelivery_of ? deliveryName(webhook, row.redelivery_of) : "",
    attempts: attempts.map((attempt) => ({
      attemptTime: timestampFromPg(attempt.time),
      statusCode: attempt.status_code,
      error: attempt.error ?? "",
      durationMs: attempt.duration_ms,
    })),
  });
}

/** An attempt as `attempts` keeps it. */
export const storedAttempt = (attempt: Omit<StoredAttempt, "time">, time: string): Json => ({
  ...attempt,
  time,
});

/** The fields UpdateWebhook may change, by their names in the contract. */
export const WRITABLE_WEBHOOK_FIELDS = ["url", "secret", "event_types", "active"] as const;

/**
 * A URL webhooks may be created with: the contract has checked its form;
 * here, that its host is not an address they may not reach (a name is
 * checked at each delivery, when it is resolved).
 */
export function checkedUrl(url: string | undefined, targets: TargetPolicy): string {
  const value = required(url, "webhook.url");
  // The contract's rules say the same; its patterns are bounded (RE2 allows
  // repeats up to 1000), so a user name deep in a long URL is caught here.
  // The contract lets through forms WHATWG URL parsing refuses (a zone id, a port past 65535).
  const parsed = URL.parse(value);
  if (!parsed) throw invalidArgument("webhook.url", "is not a URL this server can connect to");
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw invalidArgument("webhook.url", "must be an http:// or https:// URL");
  if (parsed.username || parsed.password)
    throw invalidArgument("webhook.url", "must not carry a user name or password");
  const address = addressOfUrl(parsed);
  const refusal = address === undefined ? undefined : targets.refusal(address);
  if (refusal) throw invalidArgument("webhook.url", refusal, "WEBHOOK_TARGET_NOT_ALLOWED");
  return value;
}

function eventKinds(types: Kind[]): IssueEventKind[] {
  if (types.length === 0) throw invalidArgument("webhook.event_types", "needs at least one event type");
  return types.map((type) => KIND_OF_API.get(type) as IssueEventKind);
}

/** The columns an update writes: the masked `fields` of `webhook`. */
export function webhookChanges(
  webhook: Webhook,
  fields: Set<(typeof WRITABLE_WEBHOOK_FIELDS)[number]>,
  targets: TargetPolicy,
): Partial<Pick<WebhookRow, "url" | "secret" | "event_kinds" | "active">> {
  return {
    ...(fields.has("url") && { url: checkedUrl(webhook.url, targets) }),
    ...(fields.has("secret") && { secret: required(webhook.secret, "webhook.secret") }),
    ...(fields.has("event_types") && { event_kinds: eventKinds(webhook.eventTypes) }),
    ...(fields.has("active") && { active: webhook.active ?? true }),
  };
}

/** The columns of a new webhook. */
export function newWebhook(webhook: Webhook, targets: TargetPolicy) {
  return {
    url: checkedUrl(webhook.url, targets),
    secret: required(webhook.secret, "webhook.secret"),
    event_kinds: eventKinds(webhook.eventTypes),
    active: webhook.active ?? true,
  };
}
