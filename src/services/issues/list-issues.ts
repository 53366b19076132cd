import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { toIssue } from "../../domain/issues/issue-mapping.js";
import { listIssues as listIssueRows } from "../../domain/issues/list-issues.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const listIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["listIssues"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    const { page, nextPageToken } = await listIssueRows(ctx.db, project, req);
    return { issues: page.map((row) => toIssue(row, project.key)), nextPageToken };
  };
