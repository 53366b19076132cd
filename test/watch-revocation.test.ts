import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from "vitest";
import { createNodeTransport } from "../client/node.js";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { IssueService, type WatchIssuesResponse } from "../gen/proto/tracker/v1/issue_pb.js";
import { MemberService, Member_Role as Role } from "../gen/proto/tracker/v1/member_pb.js";
import { expectError } from "./support/errors.js";
import { addMember, clientsFor, createProject, userNamed } from "./support/fixtures.js";
import { testIssuer } from "./support/issuer.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { type Protocol, transportFor } from "./support/transports.js";
import { readWatchIssues } from "./support/watch-stream.js";

// Access that ends, ends everywhere: a WatchIssues stream re-checks the
// caller's access when their membership changes and ends with the code a new
// call would get, and never delivers an event committed after access ended.
// Promptness is checked by order, not by time: the stream ends before its
// first heartbeat (15 s), i.e. with only the opening message besides events.

/** Connect and gRPC, over both HTTP versions between them. */
const STREAM_PROTOCOLS: Protocol[] = [
  "Connect binary over HTTP/2",
  "gRPC over HTTP/2",
  "gRPC-Web over HTTP/1.1",
];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

let users = 0;
/** A subject no other test uses (each user may hold only so many streams). */
const newSubject = (role: string) => `${role}-${(users++).toString(36)}`;

interface Watch {
  messages: WatchIssuesResponse[];
  /** Titles of the issues the stream delivered events about, in order. */
  titles: string[];
  /** Resolves when the stream ends: undefined for OK, else its error. */
  ended: Promise<ConnectError | undefined>;
  /** Resolves once the stream has delivered `count` events. */
  until(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** Reads a WatchIssues stream of `parent` as the transport's caller, from the start of its history. */
function watch(transport: Transport, parent: string): Watch {
  const stream = readWatchIssues(createClient(IssueService, transport), parent);
  const events = () => stream.messages.filter((message) => message.event !== undefined).length;
  return {
    messages: stream.messages,
    titles: stream.titles,
    ended: stream.ended,
    until: (count) =>
      stream.waitFor(
        () => events() >= count,
        () => `the stream ended after ${events()} of ${count} events`,
      ),
    stop: stream.stop,
  };
}

/** Messages without an event besides the first: heartbeats, sent after 15 s of quiet. */
const heartbeats = (stream: Watch) => stream.messages.slice(1).filter((message) => !message.event).length;

/** The error a new WatchIssues call by `transport`'s caller gets now (it must fail). */
function newWatchFails(transport: Transport, parent: string): Promise<ConnectError> {
  return (async () => {
    for await (const _ of createClient(IssueService, transport).watchIssues({ parent, after: 0n })) break;
  })().then(
    () => expect.fail("a new WatchIssues call should fail"),
    (thrown: unknown) => ConnectError.from(thrown),
  );
}

/** The stream ended with exactly what a new call gets: code, reason, message. */
async function expectEndedLikeNewCall(stream: Watch, newCall: Promise<ConnectError>, code: Code) {
  const ended = await stream.ended;
  const fresh = await newCall;
  expect(ended?.code, ended?.message).toBe(code);
  expect(fresh.code).toBe(code);
  expect(ended?.rawMessage).toBe(fresh.rawMessage);
  expect(ended?.findDetails(ErrorInfoSchema).map((info) => info.reason)).toEqual(
    fresh.findDetails(ErrorInfoSchema).map((info) => info.reason),
  );
}

/** A transport that sends this very token. */
const withToken = (protocol: Protocol, baseUrl: string, token: string) =>
  createNodeTransport(protocol, baseUrl, [
    (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    },
  ]);

const members = (target: TestServer, as = "alice") =>
  createClient(MemberService, transportFor("Connect binary over HTTP/2", target.baseUrl, as));
const memberName = async (target: TestServer, parent: string, subject: string) =>
  `${parent}/members/${(await userNamed(target, subject)).slice("users/".length)}`;

describe.each(STREAM_PROTOCOLS)("an open WatchIssues stream over %s", (protocol) => {
  it("ends with NOT_FOUND when an admin removes the reader, and delivers nothing written after", async () => {
    const parent = await createProject(server);
    const carol = newSubject("carol");
    await addMember(server, parent, carol, "reader");
    const { issues } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "before" } });
    const asCarol = transportFor(protocol, server.baseUrl, carol);
    const stream = watch(asCarol, parent);
    await stream.until(1);

    await members(server).deleteMember({ name: await memberName(server, parent, carol) });
    await issues.createIssue({ parent, issue: { title: "after the removal" } });

    await expectEndedLikeNewCall(stream, newWatchFails(asCarol, parent), Code.NotFound);
    expect(stream.titles).toEqual(["before"]);
    expect(heartbeats(stream)).toBe(0);
  });

  it("ends with NOT_FOUND when the reader leaves, even with no event after", async () => {
    const parent = await createProject(server);
    const carol = newSubject("carol");
    await addMember(server, parent, carol, "reader");
    const asCarol = transportFor(protocol, server.baseUrl, carol);
    const stream = watch(asCarol, parent);
    await clientsFor(server).issues.createIssue({ parent, issue: { title: "seen" } });
    await stream.until(1);

    await members(server, carol).deleteMember({ name: await memberName(server, parent, carol) });

    await expectEndedLikeNewCall(stream, newWatchFails(asCarol, parent), Code.NotFound);
    expect(stream.titles).toEqual(["seen"]);
    expect(heartbeats(stream)).toBe(0);
  });

  it("keeps a reader demoted from writer, and from admin, streaming", async () => {
    const parent = await createProject(server);
    const carol = newSubject("carol");
    const dave = newSubject("dave");
    await addMember(server, parent, carol, "writer");
    await addMember(server, parent, dave, "admin");
    const asCarol = transportFor(protocol, server.baseUrl, carol);
    const asDave = transportFor(protocol, server.baseUrl, dave);
    const carolWatch = watch(asCarol, parent);
    const daveWatch = watch(asDave, parent);
    const { issues } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "one" } });
    await Promise.all([carolWatch.until(1), daveWatch.until(1)]);

    for (const subject of [carol, dave]) {
      await members(server).updateMember({
        member: { name: await memberName(server, parent, subject), role: Role.READER },
        updateMask: { paths: ["role"] },
      });
    }
    await issues.createIssue({ parent, issue: { title: "two" } });
    await Promise.all([carolWatch.until(2), daveWatch.until(2)]);
    // Readers still: writing is refused, reading goes on.
    await expectError(
      createClient(IssueService, asCarol).createIssue({ parent, issue: { title: "no" } }),
      Code.PermissionDenied,
    );
    await Promise.all([carolWatch.stop(), daveWatch.stop()]);
    expect(carolWatch.titles).toEqual(["one", "two"]);
    expect(daveWatch.titles).toEqual(["one", "two"]);
    // Ended by the client's abort, not by the server.
    expect((await carolWatch.ended)?.code).toBe(Code.Canceled);
  });

  it("keeps streaming to a member when someone else is removed", async () => {
    const parent = await createProject(server);
    const carol = newSubject("carol");
    const erin = newSubject("erin");
    await addMember(server, parent, carol, "reader");
    await addMember(server, parent, erin, "reader");
    const asCarol = transportFor(protocol, server.baseUrl, carol);
    const asErin = transportFor(protocol, server.baseUrl, erin);
    const carolWatch = watch(asCarol, parent);
    const erinWatch = watch(asErin, parent);
    const { issues } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "for both" } });
    await Promise.all([carolWatch.until(1), erinWatch.until(1)]);

    await members(server).deleteMember({ name: await memberName(server, parent, erin) });
    await issues.createIssue({ parent, issue: { title: "for carol" } });

    await carolWatch.until(2);
    await expectEndedLikeNewCall(erinWatch, newWatchFails(asErin, parent), Code.NotFound);
    await carolWatch.stop();
    expect(carolWatch.titles).toEqual(["for both", "for carol"]);
    expect(erinWatch.titles).toEqual(["for both"]);
  });

  it("goes on through the project's deletion and undeletion, as a new call on a deleted project does", async () => {
    const parent = await createProject(server);
    const carol = newSubject("carol");
    await addMember(server, parent, carol, "reader");
    const asCarol = transportFor(protocol, server.baseUrl, carol);
    const stream = watch(asCarol, parent);
    const { issues, projects } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "before" } });
    await stream.until(1);

    await projects.deleteProject({ name: parent });
    // A new call on the deleted project is let through (its history stays readable)...
    const fresh = watch(asCarol, parent);
    await fresh.until(1);
    await fresh.stop();
    // ...and so the open stream is still there when the project comes back.
    await projects.undeleteProject({ name: parent });
    await issues.createIssue({ parent, issue: { title: "after" } });
    await stream.until(2);
    await stream.stop();
    expect(stream.titles).toEqual(["before", "after"]);
    expect((await stream.ended)?.code).toBe(Code.Canceled);
  });

  it("ends with UNAUTHENTICATED when the token it was opened with expires", async () => {
    const parent = await createProject(server);
    const carol = newSubject("carol");
    await addMember(server, parent, carol, "reader");
    // The test server tolerates 5 s of clock skew: this token is accepted for 1 to 2 s more.
    const token = await (await testIssuer()).mint(carol, { expiresIn: -3 });
    const asCarol = withToken(protocol, server.baseUrl, token);
    const stream = watch(asCarol, parent);
    const ended = await stream.ended;
    expect(stream.messages.length, "the stream opened before the token expired").toBeGreaterThan(0);
    const fresh = await newWatchFails(asCarol, parent);
    expect(ended?.code, ended?.message).toBe(Code.Unauthenticated);
    expect(fresh.code).toBe(Code.Unauthenticated);
    // What the authenticator tells a new call (which over Connect streaming reads only the HTTP status).
    expect(ended?.rawMessage).toBe("the token has expired");
    expect(ended?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("UNAUTHENTICATED");
    expect(heartbeats(stream)).toBe(0);
  });
});

describe("WatchIssues and a long-lived token", () => {
  it("keeps streaming, on one quiet timer, with a token valid for longer than setTimeout can wait", async () => {
    // Node fires a timer of more than about 24.8 days at once, with this warning.
    const overflows: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === "TimeoutOverflowWarning") overflows.push(warning);
    };
    process.on("warning", onWarning);
    onTestFinished(() => {
      process.off("warning", onWarning);
    });
    const parent = await createProject(server);
    const carol = newSubject("carol");
    await addMember(server, parent, carol, "reader");
    const token = await (await testIssuer()).mint(carol, { expiresIn: 40 * 24 * 3600 });
    const asCarol = withToken("gRPC over HTTP/2", server.baseUrl, token);
    const stream = watch(asCarol, parent);
    const { issues } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "one" } });
    await stream.until(1);
    await issues.createIssue({ parent, issue: { title: "two" } });
    await stream.until(2);
    await stream.stop();
    expect(stream.titles).toEqual(["one", "two"]);
    expect((await stream.ended)?.code).toBe(Code.Canceled);
    expect(overflows).toEqual([]);
  });
});

describe("WatchIssues revocation across server processes", () => {
  it("ends a stream held by one process when another commits the removal", async () => {
    const other = await startTestServer({ sharedWith: server });
    try {
      const parent = await createProject(server);
      const carol = newSubject("carol");
      await addMember(server, parent, carol, "reader");
      const { issues } = clientsFor(server);
      await issues.createIssue({ parent, issue: { title: "before" } });
      const asCarolOnOther = transportFor("gRPC over HTTP/2", other.baseUrl, carol);
      const stream = watch(asCarolOnOther, parent);
      await stream.until(1);

      await members(server).deleteMember({ name: await memberName(server, parent, carol) });
      await issues.createIssue({ parent, issue: { title: "after the removal" } });

      await expectEndedLikeNewCall(stream, newWatchFails(asCarolOnOther, parent), Code.NotFound);
      expect(stream.titles).toEqual(["before"]);
      expect(heartbeats(stream)).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe("WatchIssues revocation without the announcement", () => {
  // The stream's process misses the removal's notification (its listener is
  // down), then hears of a later event: what it reads carries the project's
  // access revision, so it re-checks before delivering and ends instead.
  let admin: pg.Client;
  let alone: TestServer;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: inject("adminUrl") });
    await admin.connect();
    alone = await startTestServer();
  });
  afterAll(async () => {
    await alone.close();
    await admin.end();
  });

  it("delivers nothing written after a removal it was not told of", async () => {
    const parent = await createProject(alone);
    const carol = newSubject("carol");
    await addMember(alone, parent, carol, "reader");
    const { issues, projects } = clientsFor(alone);
    await issues.createIssue({ parent, issue: { title: "before" } });
    const asCarol = transportFor("Connect binary over HTTP/2", alone.baseUrl, carol);
    const stream = watch(asCarol, parent);
    await stream.until(1);
    const { uid: projectUid } = await projects.getProject({ name: parent });
    const heard = alone.ctx.issueEvents.accessRevision(projectUid);

    // Cut the listener; the bus listens again a second later.
    const database = new URL(alone.databaseUrl).pathname.slice(1);
    const listener = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
      [database],
    );
    expect(listener.rows).toHaveLength(1);
    await admin.query("SELECT pg_terminate_backend($1)", [listener.rows[0]?.pid]);
    while (
      (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [listener.rows[0]?.pid])).rowCount
    )
      await new Promise((resolve) => setTimeout(resolve, 10));

    await members(alone).deleteMember({ name: await memberName(alone, parent, carol) });
    await issues.createIssue({ parent, issue: { title: "after the removal" } });

    await expectEndedLikeNewCall(stream, newWatchFails(asCarol, parent), Code.NotFound);
    expect(stream.titles).toEqual(["before"]);
    // The removal's announcement was never heard here: the read's revision ended the stream.
    expect(alone.ctx.issueEvents.accessRevision(projectUid)).toBe(heard);
  });
});
