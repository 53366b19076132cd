import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { toIssue } from "../../domain/issues/issue-mapping.js";
import { listIssues as listIssueRows } from "../../domain/issues/list-issues.js";
import { projectKeyOf } from "../../domain/shared/names.js";
import { callerOf } from "../../shared/caller.js";

export const listIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["listIssues"] =>
  async (req, context) => {
    // The access check is in the list's query: one round trip (see selectIssuesAsReader).
    const { page, nextPageToken } = await listIssueRows(ctx.db, callerOf(context), req);
    return { issues: page.map((row) => toIssue(row, projectKeyOf(req.parent))), nextPageToken };
  };
