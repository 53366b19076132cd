import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { MemberService } from "../gen/proto/tracker/v1/member_pb.js";
import { applyMigrations } from "../src/db/atlas.js";
import { CONSISTENCY_TOKEN_HEADER } from "../src/shared/consistency-token.js";
import { addMember, createProject, userNamed } from "./support/fixtures.js";
import { type Replication, replicationUnavailable, startPrimaryAndStandby } from "./support/replication.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

// A real primary and a streaming standby (test/support/replication.ts), the
// standby as DATABASE_REPLICA_URL. Pausing the standby's replay makes it lag
// by exactly the writes made since, so which database served a read shows in
// what it returns: a stale answer can only be the replica's.

let replication: Replication;
let server: TestServer;
const logLines: string[] = [];

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/;

beforeAll(async () => {
  if (replicationUnavailable) return;
  replication = await startPrimaryAndStandby();
  await replication.primary.query("CREATE DATABASE tracker");
  await applyMigrations(replication.primary.urlFor("tracker"));
  server = await startTestServer({
    databaseUrl: replication.primary.urlFor("tracker"),
    settings: { DATABASE_REPLICA_URL: replication.standby.urlFor("tracker") },
    logger: pino({ level: "info" }, { write: (line: string) => void logLines.push(line) }),
  });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await replication?.stop();
});

/** Clients over one transport of `user`'s: what it wrote, its later calls see (the consistency token). */
function clientsOf(user: string) {
  const transport: Transport = transportFor("Connect binary over HTTP/2", server.baseUrl, user);
  return {
    issues: createClient(IssueService, transport),
    comments: createClient(CommentService, transport),
    labels: createClient(LabelService, transport),
    members: createClient(MemberService, transport),
  };
}

async function readsServedBy(target: "replica" | "primary" | "fallback"): Promise<number> {
  const body = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = body
    .split("\n")
    .find((candidate) => candidate.startsWith(`db_reads_total{target="${target}"} `));
  if (line === undefined) throw new Error(`no db_reads_total for ${target} in /metrics`);
  return Number(line.split(" ")[1]);
}

/** How many more reads `target` served while `run` ran. */
async function servedBy<T>(target: "replica" | "primary" | "fallback", run: () => Promise<T>) {
  const before = await readsServedBy(target);
  const result = await run();
  return { result, served: (await readsServedBy(target)) - before };
}

const titles = (page: { issues: { title: string }[] }) => page.issues.map((issue) => issue.title);

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe.skipIf(replicationUnavailable !== undefined)(
  `read replicas${replicationUnavailable ? ` (skipped: ${replicationUnavailable})` : ""}`,
  () => {
    let project: string;
    /** alice's writes, and her reads after them (which carry her latest token). */
    let alice: ReturnType<typeof clientsOf>;
    let firstToken: string;

    beforeAll(async () => {
      project = await createProject(server, "alice");
      alice = clientsOf("alice");
      await replication.waitForReplay();
    });

    it("with replay paused, a read without a token is the replica's (stale), and one with the write's token the primary's", async () => {
      await replication.pauseReplay();
      try {
        let token: string | null = null;
        await alice.issues.createIssue(
          { parent: project, issue: { title: "written while the replica lags" } },
          {
            onHeader: (headers) => {
              token = headers.get(CONSISTENCY_TOKEN_HEADER);
            },
          },
        );
        expect(token).toMatch(LSN);
        firstToken = token ?? "";

        // A transport that never wrote sends no token: the replica, which has not replayed the write.
        const stranger = clientsOf("alice");
        const stale = await servedBy("replica", () => stranger.issues.listIssues({ parent: project }));
        expect(titles(stale.result)).not.toContain("written while the replica lags");
        expect(stale.served).toBe(1);
        const staleSearch = await stranger.issues.listIssues({ parent: project, filter: { query: "lags" } });
        expect(titles(staleSearch)).toEqual([]);

        // The transport that wrote carries its token: the primary, which has it.
        const fresh = await servedBy("primary", () => alice.issues.listIssues({ parent: project }));
        expect(titles(fresh.result)).toContain("written while the replica lags");
        expect(fresh.served).toBe(1);
        const freshSearch = await alice.issues.listIssues({ parent: project, filter: { query: "lags" } });
        expect(titles(freshSearch)).toEqual(["written while the replica lags"]);
        // The token sent by hand does the same as the client's interceptor.
        const byHand = await stranger.issues.listIssues(
          { parent: project },
          { headers: { [CONSISTENCY_TOKEN_HEADER]: firstToken } },
        );
        expect(titles(byHand)).toContain("written while the replica lags");
      } finally {
        await replication.resumeReplay();
      }
    });

    it("once the replica has replayed a token, reads with it are the replica's", async () => {
      await replication.waitForReplay(firstToken);
      await replication.pauseReplay();
      try {
        await alice.issues.createIssue({ parent: project, issue: { title: "after the first token" } });
        // The older token is replayed, the newer write is not: served by the replica, it has one and not the other.
        const stranger = clientsOf("alice");
        const read = await servedBy("replica", () =>
          stranger.issues.listIssues(
            { parent: project },
            { headers: { [CONSISTENCY_TOKEN_HEADER]: firstToken } },
          ),
        );
        expect(titles(read.result)).toContain("written while the replica lags");
        expect(titles(read.result)).not.toContain("after the first token");
        expect(read.served).toBe(1);
        // alice's own transport now holds the newer token: the primary.
        expect(titles(await alice.issues.listIssues({ parent: project }))).toContain("after the first token");
      } finally {
        await replication.resumeReplay();
      }
    });

    it("a member removed on the primary cannot read through a replica that still has them", async () => {
      await addMember(server, project, "bob", "reader");
      const issue = (await alice.issues.listIssues({ parent: project })).issues[0]?.name ?? "";
      await replication.waitForReplay();
      const bob = clientsOf("bob");
      expect((await bob.issues.listIssues({ parent: project })).issues.length).toBeGreaterThan(0);

      await replication.pauseReplay();
      try {
        const bobUid = (await userNamed(server, "bob")).replace("users/", "");
        await alice.members.deleteMember({ name: `${project}/members/${bobUid}` });
        // The replica would still let bob in...
        const onReplica = await replication.standby.query<{ members: string }>(
          `SELECT count(*) AS members FROM members WHERE user_uid = '${bobUid}'`,
          "tracker",
        );
        expect(onReplica[0]?.members).toBe("1");
        // ...but membership is checked on the primary. bob never wrote, so he has no token.
        const removed = clientsOf("bob");
        expect(await codeOf(removed.issues.listIssues({ parent: project }))).toBe(Code.NotFound);
        expect(await codeOf(removed.issues.listIssues({ parent: project, filter: { query: "lags" } }))).toBe(
          Code.NotFound,
        );
        expect(await codeOf(removed.issues.listIssueEvents({ parent: project }))).toBe(Code.NotFound);
        expect(await codeOf(removed.comments.listComments({ parent: issue }))).toBe(Code.NotFound);
        expect(await codeOf(removed.labels.listLabels({ parent: project }))).toBe(Code.NotFound);
        expect(await codeOf(removed.members.listMembers({ parent: project }))).toBe(Code.NotFound);
      } finally {
        await replication.resumeReplay();
      }
    });

    it("refuses a malformed token with INVALID_ARGUMENT naming the header", async () => {
      const stranger = clientsOf("alice");
      for (const token of ["not-a-token", "0/1/2", "123456789/0", "0/", "-1/0", "0/1, 0/2"]) {
        const error = await stranger.issues
          .listIssues({ parent: project }, { headers: { [CONSISTENCY_TOKEN_HEADER]: token } })
          .then(() => undefined, ConnectError.from);
        expect(error?.code, token).toBe(Code.InvalidArgument);
        const [info] = error?.findDetails(ErrorInfoSchema) ?? [];
        expect(info?.reason).toBe("INVALID_CONSISTENCY_TOKEN");
        expect(info?.metadata.header).toBe(CONSISTENCY_TOKEN_HEADER);
      }
    });

    it("lets a browser on another origin send and read the token (CORS)", async () => {
      const preflight = await fetch(`${server.baseUrl}/tracker.v1.IssueService/ListIssues`, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": CONSISTENCY_TOKEN_HEADER,
        },
      });
      expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(
        CONSISTENCY_TOKEN_HEADER,
      );
      expect(preflight.headers.get("access-control-expose-headers")?.toLowerCase()).toContain(
        CONSISTENCY_TOKEN_HEADER,
      );
      // An HTTP cache keeps a read's answer apart from one to a read with another token.
      expect(preflight.headers.get("vary")?.toLowerCase()).toContain(CONSISTENCY_TOKEN_HEADER);
    });

    it("with the replica stopped, reads still succeed from the primary, and the outage is logged once", async () => {
      await alice.issues.createIssue({ parent: project, issue: { title: "with the replica down" } });
      await replication.standby.stop();
      const stranger = clientsOf("alice");
      const reads = await servedBy("fallback", async () => {
        const pages = [];
        for (let i = 0; i < 3; i++) pages.push(await stranger.issues.listIssues({ parent: project }));
        return pages;
      });
      for (const page of reads.result) expect(titles(page)).toContain("with the replica down");
      expect(reads.served).toBe(3);
      // Writes go on too, and their token's reads as well.
      await alice.issues.createIssue({ parent: project, issue: { title: "written with the replica down" } });
      const own = await servedBy("fallback", () => alice.issues.listIssues({ parent: project }));
      expect(titles(own.result)).toContain("written with the replica down");
      expect(own.served).toBe(1);
      expect(logLines.filter((line) => line.includes("the read replica does not answer"))).toHaveLength(1);
    });

    it("with the replica frozen behind open connections, reads go to the primary instead of hanging", async () => {
      await replication.standby.start();
      await alice.issues.createIssue({ parent: project, issue: { title: "before the freeze" } });
      await replication.waitForReplay();
      // Reads on the replica again (after its retry window), so its pool holds open connections.
      await expect
        .poll(
          async () => (await servedBy("replica", () => alice.issues.listIssues({ parent: project }))).served,
          {
            timeout: 15_000,
            interval: 500,
          },
        )
        .toBe(1);
      const postmaster = Number(
        readFileSync(join(replication.standby.dataDir, "postmaster.pid"), "utf8").split("\n")[0],
      );
      const pids = [postmaster, ...childrenOf(postmaster)];
      for (const pid of pids) process.kill(pid, "SIGSTOP");
      try {
        const read = await servedBy("fallback", () =>
          clientsOf("alice").issues.listIssues({ parent: project }),
        );
        expect(titles(read.result)).toContain("before the freeze");
        expect(read.served).toBe(1);
      } finally {
        for (const pid of pids) process.kill(pid, "SIGCONT");
      }
    });
  },
);

/** The pids of `pid`'s child processes (a postmaster's backends and workers). */
function childrenOf(pid: number): number[] {
  const out = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout;
  return out.split("\n").filter(Boolean).map(Number);
}
