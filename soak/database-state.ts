import pg from "pg";
import type { DatabaseState, StoredEvent } from "./check.js";
import type { Json } from "./ledger.js";

// The database as check.ts sees it, read straight from the tables (not through
// the API under test), in the API's names and the history's JSON form.

const upper = (value: string) => value.toUpperCase();

export async function readDatabaseState(url: string): Promise<DatabaseState> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // One snapshot for all the reads.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const projects = await client.query<{
      key: string;
      last_issue_number: string;
      last_event_sequence: string;
    }>("SELECT key, last_issue_number, last_event_sequence FROM projects ORDER BY key");
    const issues = await client.query<{
      uid: string;
      key: string;
      number: string;
      title: string;
      body: string;
      state: string;
      close_reason: string | null;
      priority: string;
      assignee_uid: string | null;
      revision: number;
      deleted: boolean;
      label_keys: string[];
    }>(
      `SELECT i.uid, p.key, i.number, i.title, i.body, i.state, i.close_reason, i.priority, i.assignee_uid,
              i.revision, i.delete_time IS NOT NULL AS deleted,
              coalesce((SELECT array_agg(l.key ORDER BY l.key) FROM issue_labels il
                        JOIN labels l ON l.uid = il.label_uid WHERE il.issue_uid = i.uid), '{}') AS label_keys
         FROM issues i JOIN projects p ON p.uid = i.project_uid`,
    );
    const events = await client.query<{
      key: string;
      sequence: string;
      issue_uid: string;
      issue_number: string;
      kind: string;
      changes: Array<{ field: string; old: Json; new: Json }>;
      comment_uid: string | null;
    }>(
      `SELECT p.key, e.sequence, e.issue_uid, e.issue_number, e.kind, e.changes, e.comment_uid
         FROM issue_events e JOIN projects p ON p.uid = e.project_uid ORDER BY p.key, e.sequence`,
    );
    const comments = await client.query<{
      uid: string;
      issue_uid: string;
      body: string;
      key: string;
      number: string;
    }>(
      `SELECT c.uid, c.issue_uid, c.body, p.key, i.number
         FROM comments c JOIN issues i ON i.uid = c.issue_uid JOIN projects p ON p.uid = i.project_uid`,
    );
    const audit = await client.query<{ request_id: string; count: string }>(
      "SELECT request_id, count(*) FROM audit_events GROUP BY request_id",
    );
    await client.query("COMMIT");
    const issueName = (key: string, number: string) => `projects/${key}/issues/${number}`;
    return {
      projects: projects.rows.map((row) => ({
        key: row.key,
        lastIssueNumber: Number(row.last_issue_number),
        lastEventSequence: Number(row.last_event_sequence),
      })),
      issues: issues.rows.map((row) => ({
        uid: row.uid,
        name: issueName(row.key, row.number),
        projectKey: row.key,
        number: Number(row.number),
        revision: row.revision,
        version: {
          fields: {
            title: row.title,
            body: row.body,
            state: `STATE_${upper(row.state)}`,
            close_reason: row.close_reason === null ? null : `CLOSE_REASON_${upper(row.close_reason)}`,
            priority: `PRIORITY_${upper(row.priority)}`,
            assignee: row.assignee_uid === null ? null : `users/${row.assignee_uid}`,
            labels: row.label_keys.map((label) => `projects/${row.key}/labels/${label}`),
          },
          deleted: row.deleted,
        },
      })),
      events: events.rows.map(
        (row): StoredEvent => ({
          projectKey: row.key,
          sequence: Number(row.sequence),
          issueUid: row.issue_uid,
          issue: issueName(row.key, row.issue_number),
          kind: row.kind,
          changes: row.changes,
          comment:
            row.comment_uid === null
              ? ""
              : `${issueName(row.key, row.issue_number)}/comments/${row.comment_uid}`,
        }),
      ),
      comments: comments.rows.map((row) => ({
        uid: row.uid,
        name: `${issueName(row.key, row.number)}/comments/${row.uid}`,
        issueUid: row.issue_uid,
        body: row.body,
      })),
      auditCounts: new Map(audit.rows.map((row) => [row.request_id, Number(row.count)])),
    };
  } finally {
    await client.end();
  }
}
