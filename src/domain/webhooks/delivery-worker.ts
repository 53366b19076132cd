import { randomUUID } from "node:crypto";
import { create, toJsonString } from "@bufbuild/protobuf";
import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import type { DB } from "../../../gen/db.js";
import { IssueEvent_Kind } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { WebhookPayloadSchema } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import {
  type EventRow,
  hidingUnreadableIssues,
  KINDS,
  toIssueEvent,
} from "../issue-events/issue-event-store.js";
import { postOnce } from "./webhook-http.js";
import { storedAttempt, webhookName } from "./webhook-mapping.js";
import { signatureHeaders } from "./webhook-signature.js";
import { eventOfDelivery } from "./webhook-store.js";
import type { TargetPolicy } from "./webhook-targets.js";

// The delivery worker of one server process. Every process runs one; they
// share the outbox (webhook_deliveries) and never send a delivery twice at
// once: a claim is one statement that takes due rows with FOR UPDATE SKIP
// LOCKED and leases them (next_attempt_time moves past the attempt's
// deadline, with a token only the claimer knows), so it holds no lock, no
// transaction and no session state during the HTTP request, and works
// through a transaction-mode pooler. A process that dies mid-attempt leaves
// its lease to run out; the row is then claimed again (at least once).

export interface DeliverySettings {
  /** Attempts in flight at once, in this process. */
  concurrency: number;
  /** Attempts per delivery before it is failed. */
  maxAttempts: number;
  /** The first retry waits up to this long; each next one up to twice as long... */
  retryBaseMs: number;
  /** ...but never more than this (full jitter: a uniform wait below the bound). */
  retryMaxMs: number;
  /** One attempt, from connecting to the end of the read. */
  timeoutMs: number;
  /** How often to look for due deliveries when no notification comes. */
  pollIntervalMs: number;
  targets: TargetPolicy;
  /** Told of every finished attempt (the metrics). */
  onAttempt?: (outcome: "delivered" | "retry" | "failed") => void;
}

/** Finished deliveries are kept this long for ListWebhookDeliveries, then swept. */
export const DELIVERY_RETENTION = "30 days";
const SWEEP_INTERVAL_MS = 3_600_000;
/** Errors kept are cut to this many characters: they are for people, and each attempt keeps one. */
const ERROR_CHARS = 500;
/** Attempts one project's deliveries may have in flight at once, across every process. */
export const PROJECT_IN_FLIGHT = 2;

/** The wait before retry `attempt` (1 after the first failure): exponential backoff with full jitter. */
export function retryDelayMs(
  attempt: number,
  settings: Pick<DeliverySettings, "retryBaseMs" | "retryMaxMs">,
) {
  const bound = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(Math.random() * bound);
}

interface Claimed {
  uid: string;
  lease_token: string;
  attempt_count: number;
  url: string;
  secret: string;
  webhook_uid: string;
  project_uid: string;
  project_key: string;
  event_sequence: string;
}

export class DeliveryWorker {
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  #claiming = false;
  #again = false;
  #poll: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly logger: Logger,
    private readonly settings: DeliverySettings,
  ) {}

  start(): void {
    this.#poll = setInterval(() => this.wake(), this.settings.pollIntervalMs).unref();
    this.#sweep = setInterval(() => {
      this.#sweepFinished().catch((error: unknown) =>
        this.logger.warn({ err: error }, "could not sweep old webhook deliveries; will try again"),
      );
    }, SWEEP_INTERVAL_MS).unref();
    this.wake();
  }

  /** Looks for due deliveries now (a notification, the poll, or a finished attempt). */
  wake(): void {
    if (this.#stopping.signal.aborted) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    this.#claiming = true;
    this.#claimWhileFree()
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, "could not claim webhook deliveries; will try again"),
      )
      .finally(() => {
        this.#claiming = false;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /**
   * Stops claiming, ends the attempts in flight and gives their rows back
   * (their attempt uncounted, due at once), so another process, or this one
   * restarted, sends them.
   */
  async stop(): Promise<void> {
    clearInterval(this.#poll);
    clearInterval(this.#sweep);
    this.#stopping.abort();
    await Promise.all([...this.#inFlight]);
  }

  async #claimWhileFree(): Promise<void> {
    for (;;) {
      const free = this.settings.concurrency - this.#inFlight.size;
      if (free <= 0 || this.#stopping.signal.aborted) return;
      const claimed = await this.#claim(free);
      for (const delivery of claimed) {
        const attempt = this.#attempt(delivery).finally(() => {
          this.#inFlight.delete(attempt);
          this.wake();
        });
        this.#inFlight.add(attempt);
      }
      if (claimed.length < free) return;
    }
  }

  async #claim(limit: number): Promise<Claimed[]> {
    const token = randomUUID();
    // The lease outlasts the attempt's deadline, so it ends before another claim.
    const leaseMs = this.settings.timeoutMs + 30_000;
    // Fair between projects: a project's slow or silent endpoints hold at
    // most PROJECT_IN_FLIGHT attempts at once, in every process together,
    // and a claim takes one delivery per project (its most overdue), so one
    // project's backlog cannot keep another's waiting.
    const { rows } = await sql<Claimed>`
      WITH busy AS (
        SELECT project_uid FROM webhook_deliveries
        WHERE state = 'pending' AND lease_token IS NOT NULL AND next_attempt_time > now()
        GROUP BY project_uid HAVING count(*) >= ${PROJECT_IN_FLIGHT}
      ), firsts AS (
        SELECT DISTINCT ON (d.project_uid) d.uid, d.next_attempt_time FROM webhook_deliveries d
        JOIN webhooks w ON w.uid = d.webhook_uid AND w.active
        WHERE d.state = 'pending' AND d.next_attempt_time <= now()
          AND d.project_uid NOT IN (SELECT project_uid FROM busy)
        ORDER BY d.project_uid, d.next_attempt_time
      ), due AS (
        SELECT d.uid FROM webhook_deliveries d JOIN firsts f ON f.uid = d.uid
        WHERE d.state = 'pending' AND d.next_attempt_time <= now()
        ORDER BY f.next_attempt_time
        LIMIT ${limit}
        FOR UPDATE OF d SKIP LOCKED
      )
      UPDATE webhook_deliveries d
      SET attempt_count = d.attempt_count + 1,
          lease_token = ${token},
          next_attempt_time = now() + make_interval(secs => ${leaseMs / 1000})
      FROM due, webhooks w, projects p
      WHERE d.uid = due.uid AND w.uid = d.webhook_uid AND p.uid = d.project_uid
      RETURNING d.uid, d.lease_token, d.attempt_count, d.project_uid, d.event_sequence,
                w.url, w.secret, w.uid AS webhook_uid, p.key AS project_key
    `.execute(this.db);
    return rows;
  }

  async #attempt(delivery: Claimed): Promise<void> {
    const started = Date.now();
    try {
      const event = await eventOfDelivery(this.db, delivery);
      const body = Buffer.from(payloadOf(delivery, event));
      const outcome = await postOnce(delivery.url, headersOf(delivery, event, body), body, {
        targets: this.settings.targets,
        timeoutMs: this.settings.timeoutMs,
        signal: this.#stopping.signal,
      });
      if (outcome.aborted) return await this.#release(delivery);
      await this.#record(delivery, { ...outcome, durationMs: Date.now() - started });
    } catch (error) {
      // The database, not the endpoint: the lease runs out and the row is claimed again.
      this.logger.warn({ err: error, delivery: delivery.uid }, "could not finish a webhook delivery");
    }
  }

  async #record(
    delivery: Claimed,
    answer: { statusCode: number; body: string; error: string | undefined; durationMs: number },
  ): Promise<void> {
    // PostgreSQL text holds no NUL: a body or error with one would fail the
    // update, record nothing, and send the delivery again and again.
    const outcome = {
      ...answer,
      body: withoutNul(answer.body),
      error: answer.error && withoutNul(answer.error),
    };
    const delivered = outcome.error === undefined;
    const failed = !delivered && delivery.attempt_count >= this.settings.maxAttempts;
    const error = outcome.error?.slice(0, ERROR_CHARS) ?? null;
    const retryMs = retryDelayMs(delivery.attempt_count, this.settings);
    const attempt = storedAttempt(
      { status_code: outcome.statusCode, error, duration_ms: outcome.durationMs },
      new Date().toISOString(),
    );
    await this.db
      .updateTable("webhook_deliveries")
      .set({
        state: delivered ? "delivered" : failed ? "failed" : "pending",
        next_attempt_time:
          delivered || failed ? null : sql<string>`now() + make_interval(secs => ${retryMs / 1000})`,
        delivered_time: delivered ? sql<string>`now()` : null,
        lease_token: null,
        last_status_code: outcome.statusCode === 0 ? null : outcome.statusCode,
        last_response_body: outcome.body,
        last_error: error,
        attempts: sql`attempts || jsonb_build_array(${JSON.stringify(attempt)}::jsonb)`,
      })
      .where("uid", "=", delivery.uid)
      // A lease that ran out (and was claimed again) records nothing.
      .where("lease_token", "=", delivery.lease_token)
      .execute();
    this.settings.onAttempt?.(delivered ? "delivered" : failed ? "failed" : "retry");
    if (!delivered)
      this.logger.info(
        { delivery: delivery.uid, attempt: delivery.attempt_count, failed, error },
        "webhook delivery attempt failed",
      );
  }

  async #release(delivery: Claimed): Promise<void> {
    await this.db
      .updateTable("webhook_deliveries")
      .set({
        attempt_count: sql<number>`attempt_count - 1`,
        lease_token: null,
        next_attempt_time: sql<string>`now()`,
      })
      .where("uid", "=", delivery.uid)
      .where("lease_token", "=", delivery.lease_token)
      .execute();
  }

  async #sweepFinished(): Promise<void> {
    await sql`
      DELETE FROM webhook_deliveries WHERE uid IN (
        SELECT uid FROM webhook_deliveries
        WHERE state <> 'pending' AND create_time < now() - ${DELIVERY_RETENTION}::interval
        LIMIT 10000)
    `.execute(this.db);
  }
}

function payloadOf(delivery: Claimed, event: EventRow): string {
  return toJsonString(
    WebhookPayloadSchema,
    create(WebhookPayloadSchema, {
      webhook: webhookName(delivery.project_key, delivery.webhook_uid),
      // A webhook is told of its own project's issues only.
      event: hidingUnreadableIssues(toIssueEvent(event, delivery.project_key), new Set()),
    }),
  );
}

function headersOf(delivery: Claimed, event: EventRow, body: Buffer): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "tracker-webhooks/1",
    "x-tracker-delivery": delivery.uid,
    // The kind as the payload's JSON spells it, e.g. KIND_ISSUE_CREATED.
    "x-tracker-event": `KIND_${IssueEvent_Kind[KINDS[event.kind]]}`,
    ...signatureHeaders(delivery.secret, body, Math.floor(Date.now() / 1000)),
  };
}

const withoutNul = (text: string) => text.replaceAll("\u0000", "\uFFFD");
