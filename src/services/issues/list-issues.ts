import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { toIssue } from "../../domain/issues/issue-mapping.js";
import { listIssues as listIssueRows } from "../../domain/issues/list-issues.js";
import { EVERY_PROJECT } from "../../domain/shared/names.js";
import { callerOf } from "../../shared/caller.js";
import { read } from "../unit-of-work.js";

export const listIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["listIssues"] =>
  async (req, context) => {
    // The access check is in the list's query: one round trip (see selectIssuesAsReader
    // and, for `projects/-`, selectIssuesAcrossProjects).
    const list = async (db: AppContext["db"]) => {
      const { page, nextPageToken } = await listIssueRows(db, callerOf(context), req);
      return { issues: page.map((row) => toIssue(row, row.project_key)), nextPageToken };
    };
    // Across projects, the memberships are the query's own join, so it runs on the
    // primary: a replica that lags would still show a removed member's projects.
    if (req.parent === EVERY_PROJECT) return list(ctx.db);
    return read(ctx, context, { resource: req.parent }, ({ db }) => list(db));
  };
