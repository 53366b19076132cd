import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import pg from "pg";
import {
  Issue_Priority,
  Issue_State,
  type IssueEvent,
  IssueEvent_Kind,
  IssueEventSchema,
  IssueSchema,
  IssueService,
} from "../gen/proto/tracker/v1/issue_pb.js";

/**
 * The framework's limit, run as its own process by the bench: a bare Connect
 * handler (no auth, no interceptors, no database) answering GetIssue with a
 * constant Issue of the seeded size, on h2c like the tracker.
 *
 * With BARE_QUERY (JSON: the tracker's GetIssue SQL, compiled, and the
 * bench user's uid) and DATABASE_URL, each call first runs that query,
 * prepared, through pg with the tracker's pool size: the least any
 * database-backed GetIssue can cost in Node (Connect plus one pg round trip).
 *
 * WatchIssues and CreateIssue give the framework's fan-out: every CreateIssue
 * hands one event, made once, to every open WatchIssues stream.
 */
const now = timestampFromDate(new Date());
const issue = create(IssueSchema, {
  name: "projects/P001/issues/42",
  uid: "0b7a3c1e-5d2f-4e6a-9b8c-1d2e3f4a5b6c",
  number: 42n,
  key: "P001-42",
  title: "Crash login fails on timeout #42",
  body: `Steps: open the search page, click export. Expected the memory to work; got a latency error instead. ${"Some more context about cache. ".repeat(3)}`,
  state: Issue_State.OPEN,
  priority: Issue_Priority.HIGH,
  reporter: "users/6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
  assignee: "users/7a2e3d4c-5b6f-4a71-9b8c-0d1e2f3a4b5c",
  labels: ["projects/P001/labels/label-3", "projects/P001/labels/label-8"],
  createTime: now,
  updateTime: now,
  etag: '"r1"',
});
const query = process.env.BARE_QUERY
  ? (JSON.parse(process.env.BARE_QUERY) as { sql: string; parameters: unknown[]; callerUid: string })
  : undefined;
const pool = query && new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
/** The next event, and how to hand it to every stream waiting for it. */
function eventToCome() {
  let resolve: (event: IssueEvent) => void = () => {};
  const promise = new Promise<IssueEvent>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
let created = 0;
let nextEvent = eventToCome();
const routes = (router: ConnectRouter) =>
  router.service(IssueService, {
    createIssue: async () => {
      created++;
      const name = `projects/P000/issues/${created}`;
      const event = create(IssueEventSchema, {
        sequence: BigInt(created),
        issue: name,
        actor: issue.reporter,
        createTime: timestampFromDate(new Date()),
        kind: IssueEvent_Kind.ISSUE_CREATED,
      });
      const waiting = nextEvent;
      nextEvent = eventToCome();
      // After the response is written, as the tracker's watchers hear of a commit.
      setImmediate(() => waiting.resolve(event));
      return { ...issue, name };
    },
    async *watchIssues(_, context) {
      yield { position: 0n };
      while (!context.signal.aborted) {
        const event = await nextEvent.promise;
        yield { event, position: event.sequence };
      }
    },
    getIssue: async (req) => {
      if (query && pool) {
        const [, projectKey, , number] = req.name.split("/");
        // The compiled query's placeholders (bench/ablation.ts), given this call's values.
        const values: Record<string, unknown> = {
          $CALLER: query.callerUid,
          $PROJECT_KEY: projectKey,
          $NUMBER: number,
        };
        const { rows } = await pool.query({
          name: "get_issue",
          text: query.sql,
          values: query.parameters.map((p) => (typeof p === "string" && p in values ? values[p] : p)),
        });
        if (!rows[0]) throw new Error(`${req.name} not found`);
      }
      return issue;
    },
  });
const server = http2.createServer({}, connectNodeAdapter({ routes }));
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ address: `127.0.0.1:${port}` })}\n`);
});
process.once("SIGTERM", () => process.exit(0));
