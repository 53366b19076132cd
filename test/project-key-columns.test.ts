// comments and issue_labels carry their issue's project_uid (the key a
// sharded database would place them by: DEPLOYMENT.md, "Towards distributed
// SQL"): written by every write, backfilled by the migration that added it,
// and kept equal to the issue's and the label's by composite foreign keys.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CommentService } from "../gen/proto/tracker/v1/comment_pb.js";
import { LabelService } from "../gen/proto/tracker/v1/label_pb.js";
import { atlasBinary } from "../src/db/atlas.js";
import { clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { transportFor } from "./support/transports.js";

const MIGRATION = "20261202060000_comments_issue_labels_project_uid.sql";

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Rows of comments and issue_labels whose project_uid is not their issue's (NULL included). */
const MISPLACED = `
  SELECT (SELECT count(*) FROM comments c JOIN issues i ON i.uid = c.issue_uid
          WHERE c.project_uid IS DISTINCT FROM i.project_uid)::int AS comments,
         (SELECT count(*) FROM issue_labels il JOIN issues i ON i.uid = il.issue_uid
          WHERE il.project_uid IS DISTINCT FROM i.project_uid)::int AS issue_labels`;

describe("the migration that adds project_uid", () => {
  const name = `tracker_test_backfill_${randomBytes(6).toString("hex")}`;
  const url = new URL(inject("adminUrl"));
  url.pathname = `/${name}`;
  url.searchParams.set("sslmode", "disable");
  url.searchParams.set("search_path", "public");
  const migrate = (...amount: string[]) =>
    promisify(execFile)(atlasBinary(), [
      "migrate",
      "apply",
      "--url",
      url.toString(),
      "--dir",
      "file://migrations",
      ...amount,
    ]);

  beforeAll(async () => {
    await withClient(inject("adminUrl"), (admin) => admin.query(`CREATE DATABASE "${name}"`));
  });
  afterAll(async () => {
    await withClient(inject("adminUrl"), (admin) =>
      admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
    );
  });

  it("fills it on the comments and labels of every issue written before it, in several batches", async () => {
    const before = readdirSync("migrations")
      .filter((file) => file.endsWith(".sql"))
      .sort()
      .indexOf(MIGRATION);
    expect(before).toBeGreaterThan(0);
    await migrate(String(before));
    // As the release before wrote them: 2,500 issues (batches of 1,000) in two
    // projects, each with a comment and a label of its project.
    const seeded = await withClient(url.toString(), async (db) => {
      await db.query(`
        INSERT INTO users (subject) VALUES ('backfill');
        INSERT INTO projects (key, display_name) VALUES ('BFA', 'A'), ('BFB', 'B');
        INSERT INTO labels (project_uid, key, display_name) SELECT uid, 'bug', 'Bug' FROM projects;
        INSERT INTO issues (project_uid, number, title, reporter_uid)
          SELECT p.uid, n, 'seeded', (SELECT uid FROM users)
          FROM projects p, generate_series(1, 1250) AS n;
        INSERT INTO comments (issue_uid, author_uid, body)
          SELECT uid, reporter_uid, 'seeded' FROM issues;
        INSERT INTO issue_labels (issue_uid, label_uid)
          SELECT i.uid, l.uid FROM issues i JOIN labels l ON l.project_uid = i.project_uid;`);
      return (await db.query("SELECT count(*)::int AS n FROM comments")).rows[0].n as number;
    });
    expect(seeded).toBe(2500);

    await migrate();

    const rows = await withClient(url.toString(), async (db) => {
      const misplaced = (await db.query(MISPLACED)).rows[0];
      const filled = (
        await db.query(`SELECT (SELECT count(project_uid) FROM comments)::int AS comments,
                               (SELECT count(project_uid) FROM issue_labels)::int AS issue_labels`)
      ).rows[0];
      return { misplaced, filled };
    });
    expect(rows).toEqual({
      misplaced: { comments: 0, issue_labels: 0 },
      filled: { comments: 2500, issue_labels: 2500 },
    });
  });
});

describe("project_uid on comments and issue_labels", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  const query = <Row extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
    withClient(server.databaseUrl, async (db) => (await db.query<Row>(text, values)).rows);

  it("is written with every comment and label put on an issue", async () => {
    const parent = await createProject(server);
    const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, "alice");
    const labels = createClient(LabelService, transport);
    const bug = await labels.createLabel({ parent, labelId: "bug", label: { displayName: "Bug" } });
    const docs = await labels.createLabel({ parent, labelId: "docs", label: { displayName: "Docs" } });
    const issues = clientsFor(server).issues;
    const created = await issues.createIssue({ parent, issue: { title: "labelled", labels: [bug.name] } });
    const relabelled = await issues.createIssue({ parent, issue: { title: "relabelled" } });
    await issues.updateIssue({
      issue: { name: relabelled.name, labels: [bug.name, docs.name] },
      updateMask: { paths: ["labels"] },
    });
    await createClient(CommentService, transport).createComment({
      parent: created.name,
      comment: { body: "noted" },
    });

    const [project] = await query<{ uid: string }>("SELECT uid FROM projects WHERE key = $1", [
      parent.split("/")[1],
    ]);
    const written = await query<{ kind: string; project_uid: string | null }>(
      `SELECT 'comment' AS kind, c.project_uid FROM comments c JOIN issues i ON i.uid = c.issue_uid
         WHERE i.project_uid = $1
       UNION ALL
       SELECT 'label', il.project_uid FROM issue_labels il JOIN issues i ON i.uid = il.issue_uid
         WHERE i.project_uid = $1`,
      [project?.uid],
    );
    expect(written.map((row) => row.kind).sort()).toEqual(["comment", "label", "label", "label"]);
    expect(new Set(written.map((row) => row.project_uid))).toEqual(new Set([project?.uid]));
    expect(await query(MISPLACED)).toEqual([{ comments: 0, issue_labels: 0 }]);
  });

  it("is refused when it is not the issue's, or the label is of another project", async () => {
    const [first, second] = [await createProject(server), await createProject(server)];
    const issue = await clientsFor(server).issues.createIssue({ parent: first, issue: { title: "here" } });
    const transport = transportFor("Connect binary over HTTP/2", server.baseUrl, "alice");
    await createClient(LabelService, transport).createLabel({
      parent: second,
      labelId: "elsewhere",
      label: { displayName: "Elsewhere" },
    });
    const [row] = await query<{ issue: string; here: string; there: string; label: string; author: string }>(
      `SELECT i.uid AS issue, i.project_uid AS here, p.uid AS there, l.uid AS label, i.reporter_uid AS author
         FROM issues i, projects p JOIN labels l ON l.project_uid = p.uid
        WHERE i.project_uid = (SELECT uid FROM projects WHERE key = $1) AND i.number = 1 AND p.key = $2`,
      [first.split("/")[1], second.split("/")[1]],
    );
    expect(row).toBeDefined();
    if (!row) return;
    const refusal = (text: string, values: unknown[]) =>
      query(text, values).then(
        () => "written",
        (error: { code?: string; constraint?: string }) => `${error.code} ${error.constraint}`,
      );
    expect(
      await refusal(
        "INSERT INTO comments (project_uid, issue_uid, author_uid, body) VALUES ($1, $2, $3, 'x')",
        [row.there, row.issue, row.author],
      ),
    ).toBe("23503 comments_project_issue_fk");
    expect(
      await refusal("INSERT INTO issue_labels (project_uid, issue_uid, label_uid) VALUES ($1, $2, $3)", [
        row.here,
        row.issue,
        row.label,
      ]),
    ).toBe("23503 issue_labels_project_label_fk");
    expect(issue.name).toBe(`${first}/issues/1`);
  });
});
