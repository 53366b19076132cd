import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { toIssue } from "../../domain/issues/issue-mapping.js";
import { listIssues as listIssueRows } from "../../domain/issues/list-issues.js";
import { projectKeyOf } from "../../domain/shared/names.js";
import { read } from "../unit-of-work.js";

export const listIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["listIssues"] =>
  (req, context) =>
    read(ctx, context, { resource: req.parent }, async ({ db, caller }) => {
      // The access check is in the list's query: one round trip (see selectIssuesAsReader).
      const { page, nextPageToken } = await listIssueRows(db, caller, req);
      return { issues: page.map((row) => toIssue(row, projectKeyOf(req.parent))), nextPageToken };
    });
