import pg from "pg";

/** Words titles and bodies are made of, so full-text search finds something. */
export const WORDS = [
  "crash",
  "login",
  "timeout",
  "database",
  "render",
  "upload",
  "search",
  "export",
  "memory",
  "latency",
  "button",
  "layout",
  "token",
  "refresh",
  "cache",
  "index",
  "migration",
  "webhook",
  "billing",
  "invoice",
  "password",
  "session",
  "mobile",
  "android",
  "safari",
  "firefox",
  "chrome",
  "keyboard",
  "scroll",
  "modal",
  "dropdown",
  "calendar",
  "timezone",
  "unicode",
  "emoji",
  "locale",
  "import",
  "report",
  "chart",
  "dashboard",
  "permission",
  "role",
  "audit",
  "comment",
  "label",
  "filter",
  "sort",
  "pagination",
  "email",
  "notification",
];

export const PROJECTS = 100;
export const LABELS_PER_PROJECT = 10;
export const USERS = 1_000;
export const MEMBERS_PER_PROJECT = 20;
export const COMMENTS_PER_ISSUE = 3;
/** The subject of the user every load request comes from (admin of every project). */
export const BENCH_SUBJECT = "bench";
/** Its token's claims, as seeded: the server has no user row to update. */
export const BENCH_CLAIMS = { sub: BENCH_SUBJECT, email: "bench@example.com", name: "bench" };

export const projectKey = (index: number) => `P${String(index).padStart(3, "0")}`;

export interface Seeded {
  issues: number;
  issuesPerProject: number;
  benchUserUid: string;
  seconds: number;
}

/**
 * Fills an empty, migrated database with INSERT ... SELECT generate_series:
 * projects, users, members, labels, issues, issue labels, comments and the
 * issue events that would have recorded them.
 */
export async function seed(url: string, issues: number, log: (line: string) => void): Promise<Seeded> {
  const started = performance.now();
  const perProject = Math.max(1, Math.floor(issues / PROJECTS));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const words = `ARRAY[${WORDS.map((word) => `'${word}'`).join(",")}]`;
  const step = async (label: string, text: string) => {
    const t = performance.now();
    const result = await client.query(text);
    log(
      `  seed ${label.padEnd(14)} ${String(result.rowCount ?? 0).padStart(9)} rows  ${((performance.now() - t) / 1000).toFixed(1)}s`,
    );
  };
  try {
    // Foreign keys are checked by triggers; the data is consistent by construction.
    await client.query("SET session_replication_role = replica");
    await client.query("SET synchronous_commit = off");
    await client.query("SET maintenance_work_mem = '256MB'");
    await client.query("BEGIN");
    await step(
      "users",
      `INSERT INTO users (subject, email, display_name)
       SELECT 'user' || i, 'user' || i || '@example.com', 'User ' || i FROM generate_series(1, ${USERS}) i
       UNION ALL SELECT '${BENCH_SUBJECT}', '${BENCH_CLAIMS.email}', '${BENCH_CLAIMS.name}'`,
    );
    await step(
      "projects",
      `INSERT INTO projects (key, display_name, description, last_issue_number, last_event_sequence, create_time)
       SELECT 'P' || lpad(i::text, 3, '0'), 'Project ' || i, 'Benchmark project ' || i,
              ${perProject}, ${perProject * (1 + COMMENTS_PER_ISSUE)}, now() - interval '1 year' + i * interval '1 minute'
       FROM generate_series(0, ${PROJECTS - 1}) i`,
    );
    await step(
      "members",
      `INSERT INTO members (project_uid, user_uid, role)
       SELECT p.uid, u.uid, 'admin' FROM projects p, users u WHERE u.subject = '${BENCH_SUBJECT}'
       UNION ALL
       SELECT p.uid, u.uid, (ARRAY['reader','writer','admin']::member_role[])[1 + (m % 3)]
       FROM projects p
       CROSS JOIN generate_series(1, ${MEMBERS_PER_PROJECT}) m
       JOIN users u ON u.subject = 'user' || (1 + (abs(hashtext(p.key)) + m * 37) % ${USERS})`,
    );
    await step(
      "labels",
      `INSERT INTO labels (project_uid, key, display_name, color)
       SELECT p.uid, 'label-' || l, 'Label ' || l, '#' || lpad(to_hex(l * 1234567 % 16777216), 6, '0')
       FROM projects p CROSS JOIN generate_series(1, ${LABELS_PER_PROJECT}) l`,
    );
    // Reporters and assignees are members of the project.
    await step(
      "issues",
      `WITH m AS (
         SELECT project_uid, array_agg(user_uid ORDER BY user_uid) AS users FROM members GROUP BY project_uid
       )
       INSERT INTO issues (project_uid, number, title, body, state, close_reason, close_time, priority,
                           reporter_uid, assignee_uid, create_time, update_time)
       SELECT p.uid, n,
              initcap(w[1 + (n * 7) % 50]) || ' ' || w[1 + (n * 13 + p.i) % 50] || ' fails on ' || w[1 + (n * 31) % 50] || ' #' || n,
              'Steps: open the ' || w[1 + (n * 3) % 50] || ' page, click ' || w[1 + (n * 11 + p.i) % 50]
                || '. Expected the ' || w[1 + (n * 17) % 50] || ' to work; got a ' || w[1 + (n * 19) % 50]
                || ' error instead. ' || repeat('Some more context about ' || w[1 + (n * 23) % 50] || '. ', 3),
              s.state, CASE WHEN s.state = 'closed' THEN 'completed'::close_reason END,
              CASE WHEN s.state = 'closed' THEN c.t + interval '1 day' END,
              (ARRAY['urgent','high','medium','low','none']::issue_priority[])[1 + (n * 7 + p.i) % 5],
              m.users[1 + (n % array_length(m.users, 1))],
              CASE WHEN n % 4 = 0 THEN NULL ELSE m.users[1 + ((n * 5) % array_length(m.users, 1))] END,
              c.t, c.t + ((n % 97) * interval '1 hour')
       FROM (SELECT uid, row_number() OVER (ORDER BY key) - 1 AS i FROM projects) p
       JOIN m ON m.project_uid = p.uid
       CROSS JOIN generate_series(1, ${perProject}) n
       CROSS JOIN LATERAL (SELECT ${words} AS w) words(w)
       CROSS JOIN LATERAL (SELECT now() - interval '300 days' + n * interval '1 minute' AS t) c
       CROSS JOIN LATERAL (SELECT (ARRAY['open','open','in_progress','closed']::issue_state[])[1 + (n * 3 + p.i) % 4] AS state) s`,
    );
    await step(
      "issue_labels",
      `INSERT INTO issue_labels (issue_uid, label_uid)
       SELECT i.uid, l.uid FROM issues i
       CROSS JOIN generate_series(0, 1) k
       JOIN labels l ON l.project_uid = i.project_uid
                    AND l.key = 'label-' || (1 + (i.number * (3 + k * 4) + k) % ${LABELS_PER_PROJECT})
       ON CONFLICT DO NOTHING`,
    );
    await step(
      "comments",
      `INSERT INTO comments (issue_uid, author_uid, body, create_time, update_time)
       SELECT i.uid, i.reporter_uid, 'Comment ' || c || ' on #' || i.number || ': seen it again with the ' || (${words})[1 + (i.number * c) % 50] || ' flow.',
              i.create_time + c * interval '1 hour', i.create_time + c * interval '1 hour'
       FROM issues i CROSS JOIN generate_series(1, ${COMMENTS_PER_ISSUE}) c`,
    );
    await step(
      "issue_events",
      `INSERT INTO issue_events (project_uid, sequence, issue_uid, issue_number, actor_uid, kind, changes, comment_uid, create_time)
       SELECT i.project_uid, (i.number - 1) * ${1 + COMMENTS_PER_ISSUE} + 1, i.uid, i.number, i.reporter_uid, 'issue_created'::issue_event_kind,
              jsonb_build_array(jsonb_build_object('field', 'title', 'old', NULL, 'new', i.title)), NULL, i.create_time
       FROM issues i
       UNION ALL
       SELECT i.project_uid, (i.number - 1) * ${1 + COMMENTS_PER_ISSUE} + 1 + c.rn, i.uid, i.number, c.author_uid, 'comment_created'::issue_event_kind,
              '[]'::jsonb, c.uid, c.create_time
       FROM issues i
       JOIN LATERAL (SELECT uid, author_uid, create_time, row_number() OVER (ORDER BY create_time, uid) AS rn
                     FROM comments WHERE issue_uid = i.uid) c ON true`,
    );
    await client.query("COMMIT");
    const t = performance.now();
    // Vacuumed, analysed and checkpointed now, as a database of this size is
    // at rest: otherwise autovacuum and the checkpointer would take CPU from
    // the first scenarios (most at 1m), and make sizes look slower than they are.
    await client.query("VACUUM (ANALYZE)");
    // CHECKPOINT needs superuser or pg_checkpoint; a DATABASE_URL may have neither.
    await client.query("CHECKPOINT").catch(() => log("  seed: no CHECKPOINT (needs pg_checkpoint)"));
    log(`  seed vacuum    ${((performance.now() - t) / 1000).toFixed(1)}s`);
    const bench = await client.query<{ uid: string }>("SELECT uid FROM users WHERE subject = $1", [
      BENCH_SUBJECT,
    ]);
    const count = await client.query<{ n: string }>("SELECT count(*) AS n FROM issues");
    return {
      issues: Number(count.rows[0]?.n ?? 0),
      issuesPerProject: perProject,
      benchUserUid: bench.rows[0]?.uid ?? "",
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await client.end();
  }
}
