import type { HandlerContext } from "@connectrpc/connect";
import { type Issue, IssueSchema } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { deletionChanges, toIssue } from "../../domain/issues/issue-mapping.js";
import { readIssue, setIssueDeleted } from "../../domain/issues/issue-store.js";
import { mutate } from "../unit-of-work.js";

/** DeleteIssue (soft) and UndeleteIssue: the same change, in opposite directions. */
export function setDeleted(
  ctx: AppContext,
  context: HandlerContext,
  req: { name: string; etag: string },
  deleted: boolean,
): Promise<Issue> {
  const { name } = req;
  const must = deleted ? "be live" : "be deleted";
  const scope = { resource: name, role: "writer", issue: { name, must }, etag: req.etag } as const;
  return mutate(ctx, context, req, scope, async ({ tx, project, issue: row, ...work }) => {
    if (!row) throw new Error("the scope locks the issue");
    await setIssueDeleted(tx, row.uid, deleted, work.bump());
    const before = toIssue(row, project.key);
    const after = await readIssue(tx, project, name);
    const changes = deletionChanges(before, after);
    await work.event(row, deleted ? "issue_deleted" : "issue_undeleted", { changes });
    await work.audit({ resource: name, schema: IssueSchema, before, after });
    return after;
  });
}
