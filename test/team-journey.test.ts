import { randomBytes } from "node:crypto";
import { fromJsonString } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  Issue_CloseReason as CloseReason,
  IssueEvent_Kind as Kind,
  Issue_State as State,
} from "../gen/proto/tracker/v1/issue_pb.js";
import {
  IssueRelationService,
  IssueRelation_Type as RelationType,
} from "../gen/proto/tracker/v1/relation_pb.js";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import {
  WebhookDelivery_State,
  WebhookPayloadSchema,
  WebhookService,
} from "../gen/proto/tracker/v1/webhook_pb.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { expectError } from "./support/errors.js";
import { addMember, clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";
import { startReceiver, verifyDelivery } from "./support/webhook-receiver.js";

// Issue 17's journey, as a small team would live it: two users in two
// projects, "my issues" across both, a blocked issue and its blocker, a
// duplicate closed onto its original, a parent with three ordered children,
// and a webhook receiver (a real HTTP server) that gets every change of its
// project exactly once by delivery id, each signed, across a server restart
// in the middle of its retries. A stranger learns nothing through any of it.

const FAST_WEBHOOKS = {
  WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
  WEBHOOK_RETRY_BASE_MS: "50",
  WEBHOOK_RETRY_MAX_MS: "200",
  WEBHOOK_POLL_INTERVAL_MS: "100",
};
const WAIT = { timeout: 30_000, interval: 100 };

let database: TestDatabase;
let server: TestServer;
beforeAll(async () => {
  database = await createTestDatabase();
  server = await startTestServer({ databaseUrl: database.url, settings: FAST_WEBHOOKS });
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

const as = (user: string) => {
  const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, user);
  return {
    ...clientsFor(server, user),
    relations: createClient(IssueRelationService, transport),
    users: createClient(UserService, transport),
    webhooks: createClient(WebhookService, transport),
  };
};

describe("a team's week", () => {
  it("works across two projects, with relations, sub-issues and a webhook that hears every change once", async () => {
    // The receiver refuses everything until told otherwise: the first deliveries are retried.
    let accepting = false;
    const receiver = await startReceiver(() => ({ status: accepting ? 200 : 503 }));
    try {
      const core = await createProject(server, "alice");
      const ops = await createProject(server, "bob");
      await addMember(server, core, "bob", "writer", "alice");
      await addMember(server, ops, "alice", "writer", "bob");
      const alice = as("alice");
      const bob = as("bob");
      const aliceName = (await alice.users.getUser({ name: "users/me" })).name;
      const bobName = (await bob.users.getUser({ name: "users/me" })).name;

      const secret = randomBytes(24).toString("base64url");
      const webhook = await alice.webhooks.createWebhook({
        parent: core,
        webhook: {
          url: receiver.url,
          secret,
          eventTypes: Object.values(Kind).filter(
            (kind): kind is Kind => typeof kind === "number" && kind !== Kind.UNSPECIFIED,
          ),
        },
      });

      // A blocked issue and its blocker, in CORE.
      const blocker = await bob.issues.createIssue({
        parent: core,
        issue: { title: "Migrate the database", assignee: "users/me" },
      });
      const blocked = await alice.issues.createIssue({
        parent: core,
        issue: { title: "Ship search", assignee: "users/me" },
      });
      await bob.relations.createIssueRelation({
        parent: blocker.name,
        issueRelation: { type: RelationType.BLOCKS, relatedIssue: blocked.name },
      });
      const blockedNow = await alice.issues.listIssues({ parent: core, filter: { blocked: true } });
      expect(blockedNow.issues.map((issue) => issue.name)).toEqual([blocked.name]);
      const seenFromBlocked = await alice.relations.listIssueRelations({ parent: blocked.name });
      expect(seenFromBlocked.issueRelations.map((r) => [r.type, r.relatedIssue])).toEqual([
        [RelationType.BLOCKED_BY, blocker.name],
      ]);

      // A duplicate in OPS, closed onto its original.
      const original = await bob.issues.createIssue({ parent: ops, issue: { title: "Pager is noisy" } });
      const duplicate = await alice.issues.createIssue({
        parent: ops,
        issue: { title: "Too many pages at night", assignee: "users/me" },
      });
      const closed = await alice.issues.updateIssue({
        issue: { name: duplicate.name, state: State.CLOSED, closeReason: CloseReason.DUPLICATE },
        updateMask: { paths: ["state", "close_reason"] },
        duplicateOf: original.name,
      });
      expect(closed.state).toBe(State.CLOSED);
      const onOriginal = await bob.relations.listIssueRelations({ parent: original.name });
      expect(onOriginal.issueRelations.map((r) => [r.type, r.relatedIssue])).toEqual([
        [RelationType.DUPLICATED_BY, duplicate.name],
      ]);

      // A parent with three children, ordered as asked, not as filed.
      const epic = await alice.issues.createIssue({ parent: core, issue: { title: "Search v2" } });
      const children = [];
      for (const [title, order] of [
        ["Index", 3],
        ["Ranking", 1],
        ["Query parser", 2],
      ] as const) {
        const child = await alice.issues.createIssue({ parent: core, issue: { title, parent: epic.name } });
        children.push(
          await alice.issues.updateIssue({
            issue: { name: child.name, subIssueOrder: order },
            updateMask: { paths: ["sub_issue_order"] },
          }),
        );
      }
      const ordered = await alice.issues.listIssues({ parent: core, filter: { parent: epic.name } });
      expect(ordered.issues.map((issue) => issue.title)).toEqual(["Ranking", "Query parser", "Index"]);

      // "My issues" across both projects: open, assigned to me.
      const mine = (user: ReturnType<typeof as>) =>
        user.issues.listIssues({
          parent: "projects/-",
          filter: { assignees: ["users/me"], states: [State.OPEN] },
        });
      expect((await mine(alice)).issues.map((issue) => issue.name)).toEqual([blocked.name]);
      expect((await mine(bob)).issues.map((issue) => issue.name)).toEqual([blocker.name]);
      expect(blocked.assignee).toBe(aliceName);
      expect(blocker.assignee).toBe(bobName);

      // A stranger learns nothing through the new paths.
      const carol = as("carol");
      expect((await carol.issues.listIssues({ parent: "projects/-" })).issues).toEqual([]);
      expect(
        (await carol.issues.listIssues({ parent: "projects/-", filter: { query: "search" } })).issues,
      ).toEqual([]);
      const carolsOwn = await createProject(server, "carol");
      const hers = await carol.issues.createIssue({ parent: carolsOwn, issue: { title: "Mine alone" } });
      const relateTo = (relatedIssue: string) =>
        carol.relations.createIssueRelation({
          parent: hers.name,
          issueRelation: { type: RelationType.RELATES_TO, relatedIssue },
        });
      const privateIssue = await expectError(relateTo(blocked.name), Code.NotFound);
      const missingIssue = await expectError(relateTo(`${core}/issues/999`), Code.NotFound);
      expect(privateIssue.rawMessage.replace(blocked.name, "X")).toBe(
        missingIssue.rawMessage.replace(`${core}/issues/999`, "X"),
      );
      await expectError(carol.relations.listIssueRelations({ parent: blocked.name }), Code.NotFound);
      const found = await carol.users.searchUsers({ query: "alice" });
      expect(found.users.map((user) => user.name)).not.toContain(aliceName);
      await expectError(carol.webhooks.listWebhooks({ parent: core }), Code.NotFound);

      // The server restarts while the receiver still refuses: nothing is lost.
      await vi.waitFor(() => expect(receiver.received.length).toBeGreaterThan(0), WAIT);
      await server.close();
      server = await startTestServer({ databaseUrl: database.url, settings: FAST_WEBHOOKS });
      accepting = true;

      // Every event of CORE's history reached the receiver, each under one delivery id.
      const history = await as("alice").issues.listIssueEvents({ parent: core, pageSize: 1000 });
      const sequences = history.events.map((event) => event.sequence).sort((a, b) => Number(a - b));
      const delivered = () => receiver.received.filter((request) => request.headers["x-tracker-delivery"]);
      await vi.waitFor(async () => {
        const { deliveries } = await as("alice").webhooks.listWebhookDeliveries({
          parent: webhook.name,
          pageSize: 1000,
        });
        expect(deliveries.map((delivery) => delivery.state)).toEqual(
          sequences.map(() => WebhookDelivery_State.DELIVERED),
        );
      }, WAIT);
      const byDelivery = new Map<string, bigint>();
      for (const request of delivered()) {
        expect(verifyDelivery(secret, request.headers, request.body)).toBe(true);
        const payload = fromJsonString(WebhookPayloadSchema, request.body.toString("utf8"));
        expect(payload.webhook).toBe(webhook.name);
        const id = String(request.headers["x-tracker-delivery"]);
        // A retry is the same delivery of the same event.
        expect(byDelivery.get(id) ?? payload.event?.sequence).toBe(payload.event?.sequence);
        byDelivery.set(id, payload.event?.sequence ?? -1n);
      }
      expect([...byDelivery.values()].sort((a, b) => Number(a - b))).toEqual(sequences);
      // Refused at first, then retried: some delivery came more than once.
      expect(delivered().length).toBeGreaterThan(byDelivery.size);

      // A while later, still nothing more: each event once.
      const settled = receiver.received.length;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.received.length).toBe(settled);
    } finally {
      await receiver.close();
    }
  });
});
