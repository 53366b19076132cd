import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fromJsonString, toJson } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { AuditService } from "../gen/proto/tracker/v1/audit_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { type IssueEvent, IssueEvent_Kind as Kind } from "../gen/proto/tracker/v1/issue_pb.js";
import { MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import {
  IssueRelationService,
  IssueRelation_Type as RelationType,
} from "../gen/proto/tracker/v1/relation_pb.js";
import {
  WebhookDelivery_State as DeliveryState,
  WebhookPayloadSchema,
  WebhookSchema,
  WebhookService,
} from "../gen/proto/tracker/v1/webhook_pb.js";
import { PROJECT_IN_FLIGHT } from "../src/domain/webhooks/delivery-worker.js";
import { MAX_PENDING_DELIVERIES } from "../src/domain/webhooks/webhook-store.js";
import { createTestDatabase } from "./support/database.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, clientsFor, createProject, userNamed } from "./support/fixtures.js";
import { PGBOUNCER, startPgBouncer } from "./support/pgbouncer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";
import { startReceiver, verifyDelivery } from "./support/webhook-receiver.js";

// Webhooks against a real HTTP receiver on 127.0.0.1, which the servers
// here allow (WEBHOOK_ALLOWED_CIDRS) unless a test is about refusing it.
// Retries are made fast (milliseconds instead of minutes); nothing here
// measures time.

const FAST = {
  WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
  WEBHOOK_RETRY_BASE_MS: "50",
  WEBHOOK_RETRY_MAX_MS: "200",
  WEBHOOK_POLL_INTERVAL_MS: "100",
  WEBHOOK_TIMEOUT_MS: "3000",
};
const ALL_KINDS = [
  Kind.ISSUE_CREATED,
  Kind.ISSUE_UPDATED,
  Kind.ISSUE_DELETED,
  Kind.ISSUE_UNDELETED,
  Kind.COMMENT_CREATED,
  Kind.COMMENT_UPDATED,
  Kind.COMMENT_DELETED,
  Kind.RELATION_CREATED,
  Kind.RELATION_DELETED,
];
const WAIT = { timeout: 20_000, interval: 50 };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ settings: FAST });
});
afterAll(() => server.close());

const webhooksOf = (on: TestServer, user = "alice") =>
  createClient(WebhookService, transportFor("Connect binary over HTTP/2", on.baseUrl, user));
const newSecret = () => randomBytes(24).toString("base64url");

async function newWebhook(on: TestServer, url: string, options: { kinds?: Kind[]; project?: string } = {}) {
  const project = options.project ?? (await createProject(on));
  const secret = newSecret();
  const webhook = await webhooksOf(on).createWebhook({
    parent: project,
    webhook: { url, secret, eventTypes: options.kinds ?? ALL_KINDS },
  });
  return { project, secret, webhook };
}

async function deliveriesOf(on: TestServer, webhook: string) {
  return (await webhooksOf(on).listWebhookDeliveries({ parent: webhook, pageSize: 1000 })).deliveries;
}

/** Waits until every delivery of the webhook is finished (and at least `count` exist). */
async function finished(on: TestServer, webhook: string, count: number) {
  return vi.waitFor(async () => {
    const deliveries = await deliveriesOf(on, webhook);
    expect(deliveries.length).toBeGreaterThanOrEqual(count);
    for (const delivery of deliveries) expect(delivery.state).not.toBe(DeliveryState.PENDING);
    return deliveries;
  }, WAIT);
}

const payloadOf = (body: Buffer) => fromJsonString(WebhookPayloadSchema, body.toString("utf8"));

describe("deliveries", () => {
  it("sends every change once, signed, with the event of the history", async () => {
    const receiver = await startReceiver();
    try {
      const { project, secret, webhook } = await newWebhook(server, receiver.url);
      const onlyCreated = await newWebhook(server, `${receiver.url}?only=created`, {
        project,
        kinds: [Kind.ISSUE_CREATED],
      });
      const { issues } = clientsFor(server);
      const comments = createClient(
        CommentService,
        transportFor("Connect binary over HTTP/2", server.baseUrl),
      );
      const issue = await issues.createIssue({ parent: project, issue: { title: "hooked" } });
      await issues.updateIssue({
        issue: { name: issue.name, title: "hooked, edited" },
        updateMask: { paths: ["title"] },
      });
      const comment = await comments.createComment({ parent: issue.name, comment: { body: "hi" } });
      await comments.updateComment({
        comment: { name: comment.name, body: "hello" },
        updateMask: { paths: ["body"] },
      });
      await comments.deleteComment({ name: comment.name });
      await issues.deleteIssue({ name: issue.name });
      await issues.undeleteIssue({ name: issue.name });
      const { events } = await issues.listIssueEvents({ parent: project });
      expect(events).toHaveLength(7);

      const deliveries = await finished(server, webhook.name, 7);
      expect(deliveries.map((delivery) => delivery.state)).toEqual(Array(7).fill(DeliveryState.DELIVERED));
      await finished(server, onlyCreated.webhook.name, 1);
      // Well past the poll interval: nothing more arrives.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const toMain = receiver.received.filter((request) => request.path === "/hook");
      const toOnlyCreated = receiver.received.filter((request) => request.path !== "/hook");
      expect(new Set(toMain.map((request) => request.headers["x-tracker-delivery"])).size).toBe(7);
      expect(toMain).toHaveLength(7);
      expect(toOnlyCreated).toHaveLength(1);
      expect(payloadOf(toOnlyCreated[0]?.body ?? Buffer.alloc(0)).event?.kind).toBe(Kind.ISSUE_CREATED);

      for (const request of toMain) {
        expect(verifyDelivery(secret, request.headers, request.body)).toBe(true);
        expect(verifyDelivery(onlyCreated.secret, request.headers, request.body)).toBe(false);
        expect(request.headers["content-type"]).toBe("application/json");
        const payload = payloadOf(request.body);
        expect(payload.webhook).toBe(webhook.name);
        // The kind as the JSON body spells it.
        expect(request.headers["x-tracker-event"]).toBe(
          (JSON.parse(request.body.toString("utf8")) as { event: { kind: string } }).event.kind,
        );
        expect(request.headers["x-tracker-event"]).toBe(`KIND_${Kind[payload.event?.kind ?? 0]}`);
        // The body-only form, as GitHub's X-Hub-Signature-256.
        expect(request.headers["x-tracker-signature-256"]).toBe(
          `sha256=${createHmac("sha256", secret).update(request.body).digest("hex")}`,
        );
      }
      // The payloads are the history's events, each once.
      // (A deleted comment's text leaves the history, not what was sent before.)
      const sent = toMain
        .map((request) => payloadOf(request.body).event)
        .sort((a, b) => Number((a?.sequence ?? 0n) - (b?.sequence ?? 0n)));
      const summary = (event: (typeof events)[number] | undefined) => [
        event?.sequence,
        event?.kind,
        event?.issue,
      ];
      expect(sent.map(summary)).toEqual(events.map(summary));
      expect(sent.filter((event) => !event?.comment)).toEqual(events.filter((event) => !event.comment));
      expect(sent.find((event) => event?.kind === Kind.COMMENT_CREATED)?.changes[0]?.newValue?.kind).toEqual({
        case: "stringValue",
        value: "hi",
      });
      // The delivery ids are the deliveries' uids.
      expect(new Set(toMain.map((request) => request.headers["x-tracker-delivery"]))).toEqual(
        new Set(deliveries.map((delivery) => delivery.uid)),
      );
      const [latest] = deliveries;
      expect(latest).toMatchObject({
        attemptCount: 1,
        lastStatusCode: 200,
        lastResponseBody: "answered 200",
        lastError: "",
      });
      expect(latest?.deliveredTime).toBeDefined();
      expect(latest?.nextAttemptTime).toBeUndefined();
      expect(latest?.attempts).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it("names no issue of another project in a relation event, sent or listed", async () => {
    const receiver = await startReceiver();
    try {
      const { project, webhook } = await newWebhook(server, receiver.url, { kinds: [Kind.RELATION_CREATED] });
      const { issues } = clientsFor(server);
      const relations = createClient(IssueRelationService, transportFor("gRPC over HTTP/2", server.baseUrl));
      const [mine, sibling] = await Promise.all(
        ["mine", "sibling"].map(
          async (title) => (await issues.createIssue({ parent: project, issue: { title } })).name,
        ),
      );
      const elsewhere = await issues.createIssue({
        parent: await createProject(server),
        issue: { title: "secret" },
      });
      for (const relatedIssue of [elsewhere.name, sibling ?? ""]) {
        await relations.createIssueRelation({
          parent: mine,
          issueRelation: { type: RelationType.RELATES_TO, relatedIssue },
        });
      }
      const deliveries = await finished(server, webhook.name, 2);
      await vi.waitFor(() => expect(receiver.received).toHaveLength(2), WAIT);
      const relatedIn = (events: (IssueEvent | undefined)[]) =>
        events
          .map(
            (event) =>
              event?.changes.find((change) => change.field === "related_issue")?.newValue?.kind.value,
          )
          .sort();
      const sent = receiver.received.map((request) => payloadOf(request.body).event);
      // The receiver is told of the webhook's own project only.
      expect(relatedIn(sent)).toEqual(["", sibling]);
      expect(relatedIn(deliveries.map((delivery) => delivery.event))).toEqual(["", sibling]);
    } finally {
      await receiver.close();
    }
  });

  it("retries a delivery the receiver failed, with the same delivery id", async () => {
    const receiver = await startReceiver((_, nth) => ({ status: nth === 0 ? 500 : 200 }));
    try {
      const { project, secret, webhook } = await newWebhook(server, receiver.url);
      await clientsFor(server).issues.createIssue({ parent: project, issue: { title: "flaky receiver" } });
      const [delivery] = await finished(server, webhook.name, 1);
      expect(delivery).toMatchObject({
        state: DeliveryState.DELIVERED,
        attemptCount: 2,
        lastStatusCode: 200,
      });
      expect(delivery?.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 200]);
      expect(delivery?.attempts[0]?.error).toBe("answered 500");
      const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(/^webhook_attempts_total\{outcome="retry"\} [1-9]/m);
      expect(metrics).toMatch(/^webhook_attempts_total\{outcome="delivered"\} [1-9]/m);
      expect(receiver.deliveryIds()).toEqual([delivery?.uid, delivery?.uid]);
      for (const request of receiver.received)
        expect(verifyDelivery(secret, request.headers, request.body)).toBe(true);
    } finally {
      await receiver.close();
    }
  });

  it("gives up after WEBHOOK_MAX_ATTEMPTS, keeping every attempt's outcome", async () => {
    const receiver = await startReceiver(() => ({ status: 503 }));
    const limited = await startTestServer({ settings: { ...FAST, WEBHOOK_MAX_ATTEMPTS: "3" } });
    try {
      const { project, webhook } = await newWebhook(limited, receiver.url);
      await clientsFor(limited).issues.createIssue({ parent: project, issue: { title: "down" } });
      const [delivery] = await finished(limited, webhook.name, 1);
      expect(delivery).toMatchObject({ state: DeliveryState.FAILED, attemptCount: 3, lastStatusCode: 503 });
      expect(delivery?.attempts.map((attempt) => attempt.statusCode)).toEqual([503, 503, 503]);
      expect(receiver.received).toHaveLength(3);
    } finally {
      await limited.close();
      await receiver.close();
    }
  });

  it("still delivers when the server is restarted between attempts", async () => {
    let up = false;
    const receiver = await startReceiver(() => ({ status: up ? 200 : 503 }));
    const database = await createTestDatabase();
    try {
      const first = await startTestServer({ databaseUrl: database.url, settings: FAST });
      const { project, webhook } = await newWebhook(first, receiver.url);
      await clientsFor(first).issues.createIssue({ parent: project, issue: { title: "across restarts" } });
      await vi.waitFor(() => expect(receiver.received.length).toBeGreaterThanOrEqual(1), WAIT);
      await first.close();
      const attemptsBefore = receiver.received.length;
      up = true;
      const second = await startTestServer({ databaseUrl: database.url, settings: FAST });
      try {
        const [delivery] = await finished(second, webhook.name, 1);
        expect(delivery?.state).toBe(DeliveryState.DELIVERED);
        expect(receiver.received.length).toBeGreaterThan(attemptsBefore);
        // Every attempt, before and after the restart, was of the one delivery.
        expect(new Set(receiver.deliveryIds())).toEqual(new Set([delivery?.uid]));
        expect(delivery?.attempts.at(-1)?.statusCode).toBe(200);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
      await receiver.close();
    }
  });

  it("gives an attempt in flight back on shutdown, uncounted, for the next process", async () => {
    // The first attempt is answered only after the server has gone.
    const receiver = await startReceiver((_, nth) => ({ status: 200, delayMs: nth === 0 ? 5_000 : 0 }));
    const database = await createTestDatabase();
    try {
      const first = await startTestServer({ databaseUrl: database.url, settings: FAST });
      const { project, webhook } = await newWebhook(first, receiver.url);
      await clientsFor(first).issues.createIssue({ parent: project, issue: { title: "in flight" } });
      await vi.waitFor(() => expect(receiver.received).toHaveLength(1), WAIT);
      await first.close();
      const left = new pg.Client({ connectionString: database.url });
      await left.connect();
      const { rows } = await left.query(
        "SELECT state, attempt_count, lease_token, next_attempt_time <= now() AS due, attempts FROM webhook_deliveries",
      );
      await left.end();
      expect(rows).toEqual([
        { state: "pending", attempt_count: 0, lease_token: null, due: true, attempts: [] },
      ]);
      const second = await startTestServer({ databaseUrl: database.url, settings: FAST });
      try {
        const [delivery] = await finished(second, webhook.name, 1);
        expect(delivery).toMatchObject({ state: DeliveryState.DELIVERED, attemptCount: 1 });
        expect(receiver.deliveryIds()).toEqual([delivery?.uid, delivery?.uid]);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
      await receiver.close();
    }
  });

  it("delivers each event once with two server processes on one database", async () => {
    // A slow receiver keeps attempts in flight while the other process claims.
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 20 }));
    const one = await startTestServer({ settings: FAST });
    const two = await startTestServer({ sharedWith: one, settings: FAST });
    try {
      const { project, webhook } = await newWebhook(one, receiver.url);
      const count = 30;
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          clientsFor(i % 2 === 0 ? one : two).issues.createIssue({
            parent: project,
            issue: { title: `#${i}` },
          }),
        ),
      );
      const deliveries = await finished(two, webhook.name, count);
      expect(deliveries).toHaveLength(count);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.received).toHaveLength(count);
      expect(new Set(receiver.deliveryIds()).size).toBe(count);
      const sequences = receiver.received.map((request) => payloadOf(request.body).event?.sequence);
      expect(new Set(sequences).size).toBe(count);
      for (const delivery of deliveries) expect(delivery.attemptCount).toBe(1);
    } finally {
      await two.close();
      await one.close();
      await receiver.close();
    }
  });

  it("follows no redirect: a 3xx is a failed attempt", async () => {
    const receiver = await startReceiver((request) =>
      request.path === "/hook" ? { status: 302, headers: { location: "/elsewhere" } } : { status: 200 },
    );
    const limited = await startTestServer({ settings: { ...FAST, WEBHOOK_MAX_ATTEMPTS: "1" } });
    try {
      const { project, webhook } = await newWebhook(limited, receiver.url);
      await clientsFor(limited).issues.createIssue({ parent: project, issue: { title: "redirected" } });
      const [delivery] = await finished(limited, webhook.name, 1);
      expect(delivery).toMatchObject({ state: DeliveryState.FAILED, lastStatusCode: 302 });
      expect(delivery?.lastError).toMatch(/redirects are not followed: to \/elsewhere/);
      expect(receiver.received.map((request) => request.path)).toEqual(["/hook"]);
    } finally {
      await limited.close();
      await receiver.close();
    }
  });

  it("sends a delivery again on RedeliverWebhookDelivery, as a new delivery of the same event", async () => {
    const receiver = await startReceiver();
    try {
      const { project, secret, webhook } = await newWebhook(server, receiver.url);
      await clientsFor(server).issues.createIssue({ parent: project, issue: { title: "again" } });
      const [first] = await finished(server, webhook.name, 1);
      const again = await webhooksOf(server).redeliverWebhookDelivery({ name: first?.name ?? "" });
      expect(again).toMatchObject({
        state: DeliveryState.PENDING,
        redeliveryOf: first?.name,
        event: first?.event,
      });
      expect(again.uid).not.toBe(first?.uid);
      await vi.waitFor(() => expect(receiver.received).toHaveLength(2), WAIT);
      const [original, repeated] = receiver.received;
      expect(receiver.deliveryIds()).toEqual([first?.uid, again.uid]);
      expect(payloadOf(repeated?.body ?? Buffer.alloc(0))).toEqual(
        payloadOf(original?.body ?? Buffer.alloc(0)),
      );
      expect(verifyDelivery(secret, repeated?.headers ?? {}, repeated?.body ?? Buffer.alloc(0))).toBe(true);
      const deliveries = await finished(server, webhook.name, 2);
      expect(deliveries.map((delivery) => delivery.uid)).toEqual([again.uid, first?.uid]);
    } finally {
      await receiver.close();
    }
  });

  it("keeps delivering when the admin who made the webhook leaves the project", async () => {
    const receiver = await startReceiver();
    try {
      const project = await createProject(server);
      await addMember(server, project, "webhook-maker", "admin");
      const secret = newSecret();
      const webhook = await webhooksOf(server, "webhook-maker").createWebhook({
        parent: project,
        webhook: { url: receiver.url, secret, eventTypes: [Kind.ISSUE_CREATED] },
      });
      const members = createClient(MemberService, transportFor("Connect binary over HTTP/2", server.baseUrl));
      const maker = (await userNamed(server, "webhook-maker")).split("/")[1];
      await members.deleteMember({ name: `${project}/members/${maker}` });
      await clientsFor(server).issues.createIssue({ parent: project, issue: { title: "after they left" } });
      const [delivery] = await finished(server, webhook.name, 1);
      expect(delivery?.state).toBe(DeliveryState.DELIVERED);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it("records an event past the webhook's backlog bound as failed, and refuses a redelivery", async () => {
    const receiver = await startReceiver();
    try {
      const { project, webhook } = await newWebhook(server, receiver.url, { kinds: [Kind.ISSUE_CREATED] });
      const issues = clientsFor(server).issues;
      await issues.createIssue({ parent: project, issue: { title: "first" } });
      const [first] = await finished(server, webhook.name, 1);
      // MAX_PENDING_DELIVERIES deliveries of that event waiting (not yet due), as for an endpoint down for long.
      await sql`
        INSERT INTO webhook_deliveries (webhook_uid, project_uid, event_sequence, next_attempt_time)
        SELECT d.webhook_uid, d.project_uid, d.event_sequence, now() + interval '1 day'
        FROM webhook_deliveries d, generate_series(1, ${MAX_PENDING_DELIVERIES})
        WHERE d.uid = ${first?.uid ?? ""}
      `.execute(server.ctx.db);
      await issues.createIssue({ parent: project, issue: { title: "one too many" } });
      const { deliveries } = await webhooksOf(server).listWebhookDeliveries({
        parent: webhook.name,
        pageSize: 2,
      });
      const bySequence = new Map(deliveries.map((delivery) => [delivery.event?.sequence, delivery]));
      expect(bySequence.get(2n)).toMatchObject({ state: DeliveryState.FAILED, attemptCount: 0 });
      expect(bySequence.get(2n)?.lastError).toMatch(
        /^not sent: the webhook already had 10000 deliveries waiting/,
      );
      expect(receiver.received).toHaveLength(1);
      await expectError(
        webhooksOf(server).redeliverWebhookDelivery({ name: bySequence.get(2n)?.name ?? "" }),
        Code.ResourceExhausted,
        "WEBHOOK_QUEUE_FULL",
      );
    } finally {
      await receiver.close();
    }
  });

  it("queues nothing for an inactive webhook, and sends what was queued once it is active again", async () => {
    const receiver = await startReceiver();
    try {
      const { project, webhook } = await newWebhook(server, receiver.url, { kinds: [Kind.ISSUE_CREATED] });
      const off = await webhooksOf(server).updateWebhook({
        webhook: { name: webhook.name, active: false },
        updateMask: { paths: ["active"] },
      });
      expect(off.active).toBe(false);
      await clientsFor(server).issues.createIssue({ parent: project, issue: { title: "while off" } });
      expect(await deliveriesOf(server, webhook.name)).toEqual([]);
      await webhooksOf(server).updateWebhook({
        webhook: { name: webhook.name, active: true },
        updateMask: { paths: ["active"] },
      });
      await clientsFor(server).issues.createIssue({ parent: project, issue: { title: "on again" } });
      await finished(server, webhook.name, 1);
      expect(receiver.received.map((request) => payloadOf(request.body).event?.sequence)).toEqual([2n]);
    } finally {
      await receiver.close();
    }
  });
});

describe.skipIf(!PGBOUNCER)("behind PgBouncer in transaction mode", () => {
  it("delivers each event once from two processes whose claims share server connections", async () => {
    const database = await createTestDatabase();
    const name = new URL(database.url).pathname.slice(1);
    const bouncer = await startPgBouncer(inject("adminUrl"), { mode: "transaction" });
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 10 }));
    const servers: TestServer[] = [];
    try {
      // The session settings a transaction pooler needs, on the role (DEPLOYMENT.md).
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query(`ALTER ROLE CURRENT_USER IN DATABASE "${name}" SET statement_timeout = 15000`);
      await admin.query(`ALTER ROLE CURRENT_USER IN DATABASE "${name}" SET TimeZone = 'UTC'`);
      await admin.end();
      const settings = {
        ...FAST,
        DATABASE_POOLER: "transaction",
        DATABASE_DIRECT_URL: database.url,
        STATEMENT_TIMEOUT_MS: "15000",
      };
      for (let i = 0; i < 2; i++)
        servers.push(await startTestServer({ databaseUrl: bouncer.urlFor(name), settings }));
      const [one, two] = servers as [TestServer, TestServer];
      const { project, webhook } = await newWebhook(one, receiver.url, { kinds: [Kind.ISSUE_CREATED] });
      const count = 20;
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          clientsFor(i % 2 === 0 ? one : two).issues.createIssue({
            parent: project,
            issue: { title: `#${i}` },
          }),
        ),
      );
      const deliveries = await finished(two, webhook.name, count);
      expect(deliveries.map((delivery) => delivery.state)).toEqual(
        Array(count).fill(DeliveryState.DELIVERED),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.received).toHaveLength(count);
      expect(new Set(receiver.deliveryIds()).size).toBe(count);
      expect(bouncer.log()).not.toMatch(/prepared statement/i);
    } finally {
      for (const server of servers) await server.close();
      await receiver.close();
      await bouncer.stop();
      await database.drop();
    }
  });
});

describe("deliveries to hostile receivers", () => {
  it("records an answer whose body holds a NUL byte, and delivers it once", async () => {
    const hostile = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      response.end(Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    });
    await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
    let requests = 0;
    hostile.on("request", () => requests++);
    try {
      const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/nul`;
      const { project, webhook } = await newWebhook(server, url, { kinds: [Kind.ISSUE_CREATED] });
      await clientsFor(server).issues.createIssue({ parent: project, issue: { title: "nul" } });
      const [delivery] = await finished(server, webhook.name, 1);
      expect(delivery?.state).toBe(DeliveryState.DELIVERED);
      expect(delivery?.attemptCount).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(requests).toBe(1);
    } finally {
      hostile.closeAllConnections();
      await new Promise((resolve) => hostile.close(resolve));
    }
  });

  it("does not let one project's silent endpoints keep another project's deliveries waiting", async () => {
    const silent = await startReceiver(() => ({ status: 200, delayMs: 60_000 }));
    const quick = await startReceiver();
    const fair = await startTestServer({
      settings: { ...FAST, WEBHOOK_CONCURRENCY: "4", WEBHOOK_TIMEOUT_MS: "20000" },
    });
    try {
      const slow = await newWebhook(fair, silent.url, { kinds: [Kind.ISSUE_CREATED] });
      for (let i = 0; i < 6; i++) {
        await clientsFor(fair).issues.createIssue({ parent: slow.project, issue: { title: `slow ${i}` } });
      }
      await vi.waitFor(() => expect(silent.received.length).toBeGreaterThan(0), WAIT);
      const other = await newWebhook(fair, quick.url, { kinds: [Kind.ISSUE_CREATED] });
      await clientsFor(fair).issues.createIssue({ parent: other.project, issue: { title: "elsewhere" } });
      // Delivered while every attempt of the silent project still hangs (they end after 20 s).
      const [delivery] = await finished(fair, other.webhook.name, 1);
      expect(delivery?.state).toBe(DeliveryState.DELIVERED);
      expect(silent.received.length).toBeLessThanOrEqual(PROJECT_IN_FLIGHT);
    } finally {
      await fair.close();
      await silent.close();
      await quick.close();
    }
  });
});

describe("where webhooks may send", () => {
  let strict: TestServer;
  beforeAll(async () => {
    // No allow-list: loopback is refused, as in production.
    const { WEBHOOK_ALLOWED_CIDRS: _, ...rest } = FAST;
    strict = await startTestServer({ settings: { ...rest, WEBHOOK_MAX_ATTEMPTS: "1" } });
  });
  afterAll(() => strict.close());

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://[::1]/hook",
    "http://0.0.0.0/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://224.0.0.1/hook",
    "http://100.64.0.1/hook",
  ])("refuses %s at create with a field violation", async (url) => {
    const project = await createProject(strict);
    const error = await expectError(
      webhooksOf(strict).createWebhook({
        parent: project,
        webhook: { url, secret: newSecret(), eventTypes: [Kind.ISSUE_CREATED] },
      }),
      Code.InvalidArgument,
      "WEBHOOK_TARGET_NOT_ALLOWED",
    );
    expect(violatedFields(error)).toEqual(["webhook.url"]);
    expect((await webhooksOf(strict).listWebhooks({ parent: project })).webhooks).toEqual([]);
  });

  it.each([
    "http://[fe80::1%25eth0]/hook",
    "http://[v1.fe]/hook",
    "http://example.com:99999/hook",
    "http://exa%00mple.com/hook",
    "http://ex%20ample.com/hook",
  ])(
    "refuses %s, which the contract lets through but is no URL to connect to, with a field violation",
    async (url) => {
      const project = await createProject(strict);
      const error = await expectError(
        webhooksOf(strict).createWebhook({
          parent: project,
          webhook: { url, secret: newSecret(), eventTypes: [Kind.ISSUE_CREATED] },
        }),
        Code.InvalidArgument,
      );
      expect(violatedFields(error)).toEqual(["webhook.url"]);
    },
  );

  it("refuses an IPv4-mapped IPv6 address", async () => {
    const project = await createProject(strict);
    const error = await expectError(
      webhooksOf(strict).createWebhook({
        parent: project,
        webhook: {
          url: "http://[::ffff:127.0.0.1]/hook",
          secret: newSecret(),
          eventTypes: [Kind.ISSUE_CREATED],
        },
      }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual(["webhook.url"]);
  });

  it("refuses at update too", async () => {
    const project = await createProject(strict);
    const webhook = await webhooksOf(strict).createWebhook({
      parent: project,
      webhook: { url: "https://hooks.example.com/x", secret: newSecret(), eventTypes: [Kind.ISSUE_CREATED] },
    });
    const error = await expectError(
      webhooksOf(strict).updateWebhook({
        webhook: { name: webhook.name, url: "http://127.0.0.1/" },
        updateMask: { paths: ["url"] },
      }),
      Code.InvalidArgument,
      "WEBHOOK_TARGET_NOT_ALLOWED",
    );
    expect(violatedFields(error)).toEqual(["webhook.url"]);
    expect((await webhooksOf(strict).getWebhook({ name: webhook.name })).url).toBe(
      "https://hooks.example.com/x",
    );
  });

  it("refuses at delivery a host name that resolves to loopback, and sends nothing", async () => {
    const receiver = await startReceiver();
    try {
      // A name is only resolved when connecting, so CreateWebhook takes it.
      const { project, webhook } = await newWebhook(strict, `http://localhost:${receiver.port}/hook`);
      await clientsFor(strict).issues.createIssue({ parent: project, issue: { title: "to localhost" } });
      const [delivery] = await finished(strict, webhook.name, 1);
      expect(delivery).toMatchObject({ state: DeliveryState.FAILED, lastStatusCode: 0 });
      expect(delivery?.lastError).toMatch(/^refused: localhost resolves to .* loopback address/);
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});

describe("the webhook resource", () => {
  it("never returns the secret, only its last 4 characters, and keeps it out of the audit log", async () => {
    const { secret, webhook } = await newWebhook(server, "https://hooks.example.com/tracker");
    const { project } = { project: webhook.name.split("/webhooks/")[0] ?? "" };
    const read = await webhooksOf(server).getWebhook({ name: webhook.name });
    const [listed] = (await webhooksOf(server).listWebhooks({ parent: project })).webhooks;
    for (const shown of [webhook, read, listed]) {
      expect(shown?.secret).toBe("");
      expect(shown?.secretHint).toBe(secret.slice(-4));
      expect(JSON.stringify(toJson(WebhookSchema, shown ?? webhook))).not.toContain(secret);
    }
    const newer = newSecret();
    const rotated = await webhooksOf(server).updateWebhook({
      webhook: { name: webhook.name, secret: newer, etag: webhook.etag },
      updateMask: { paths: ["secret"] },
    });
    expect(rotated.secretHint).toBe(newer.slice(-4));
    await webhooksOf(server).deleteWebhook({ name: webhook.name, etag: rotated.etag });
    await expectError(webhooksOf(server).getWebhook({ name: webhook.name }), Code.NotFound);

    const audit = createClient(
      AuditService,
      transportFor("Connect binary over HTTP/2", server.baseUrl, "auditor"),
    );
    const { auditEvents } = await audit.listAuditEvents({ filter: { resource: webhook.name }, pageSize: 10 });
    expect(auditEvents.map((event) => event.method.split("/")[2]).sort()).toEqual([
      "CreateWebhook",
      "DeleteWebhook",
      "UpdateWebhook",
    ]);
    const text = JSON.stringify(auditEvents.map((event) => event.changes));
    expect(text).not.toContain(secret);
    expect(text).not.toContain(newer);
  });

  it("refuses a stale etag with ABORTED", async () => {
    const { webhook } = await newWebhook(server, "https://hooks.example.com/etag");
    await webhooksOf(server).updateWebhook({
      webhook: { name: webhook.name, active: false },
      updateMask: { paths: ["active"] },
    });
    await expectError(
      webhooksOf(server).deleteWebhook({ name: webhook.name, etag: webhook.etag }),
      Code.Aborted,
      "ETAG_MISMATCH",
    );
  });

  it("allows 20 webhooks per project", async () => {
    const project = await createProject(server);
    for (let i = 0; i < 20; i++) await newWebhook(server, `https://hooks.example.com/${i}`, { project });
    await expectError(
      newWebhook(server, "https://hooks.example.com/21", { project }),
      Code.ResourceExhausted,
      "TOO_MANY_WEBHOOKS",
    );
  });

  it.each([
    ["userinfo", "https://user:password@hooks.example.com/"],
    ["a user name alone", "https://token@hooks.example.com/"],
    ["ftp", "ftp://hooks.example.com/"],
    ["file", "file:///etc/passwd"],
    ["javascript", "javascript:alert(1)"],
    ["a relative URL", "/hooks"],
    ["no host", "http:///hooks"],
    ["a fragment", "https://hooks.example.com/#x"],
    ["a user name past the first 1000 characters", `https://${"a".repeat(1500)}@hooks.invalid/`],
    ["a huge URL", `https://hooks.example.com/${"a".repeat(3000)}`],
    ["spaces", "https://hooks.example.com/a b"],
  ])("refuses a URL with %s", async (_, url) => {
    const project = await createProject(server);
    const error = await expectError(
      webhooksOf(server).createWebhook({
        parent: project,
        webhook: { url, secret: newSecret(), eventTypes: [Kind.ISSUE_CREATED] },
      }),
      Code.InvalidArgument,
    );
    expect(new Set(violatedFields(error))).toEqual(new Set(["webhook.url"]));
  });

  it.each([
    ["no secret", { url: "https://hooks.example.com/", eventTypes: [Kind.ISSUE_CREATED] }, "webhook.secret"],
    [
      "a short secret",
      { url: "https://hooks.example.com/", secret: "short", eventTypes: [Kind.ISSUE_CREATED] },
      "webhook.secret",
    ],
    [
      "no event types",
      { url: "https://hooks.example.com/", secret: "x".repeat(24), eventTypes: [] },
      "webhook.event_types",
    ],
    [
      "KIND_UNSPECIFIED",
      { url: "https://hooks.example.com/", secret: "x".repeat(24), eventTypes: [Kind.UNSPECIFIED] },
      "webhook.event_types[0]",
    ],
    ["no URL", { secret: "x".repeat(24), eventTypes: [Kind.ISSUE_CREATED] }, "webhook.url"],
  ])("refuses a webhook with %s", async (_, webhook, field) => {
    const project = await createProject(server);
    const error = await expectError(
      webhooksOf(server).createWebhook({ parent: project, webhook }),
      Code.InvalidArgument,
    );
    expect(violatedFields(error)).toEqual([field]);
  });

  it("lets only admins see or change webhooks", async () => {
    const { project, webhook } = await newWebhook(server, "https://hooks.example.com/roles");
    await addMember(server, project, "webhook-writer", "writer");
    await expectError(
      webhooksOf(server, "webhook-writer").getWebhook({ name: webhook.name }),
      Code.PermissionDenied,
    );
    await expectError(
      webhooksOf(server, "webhook-stranger").getWebhook({ name: webhook.name }),
      Code.NotFound,
    );
    await expectError(
      webhooksOf(server, "webhook-stranger").listWebhookDeliveries({ parent: webhook.name }),
      Code.NotFound,
    );
  });
});
