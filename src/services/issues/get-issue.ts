import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { notFound } from "../../domain/errors.js";
import { toIssue } from "../../domain/issues/issue-mapping.js";
import { compiledIssueWithCallerRole } from "../../domain/issues/issue-store.js";
import { issueNumberOf, projectKeyOf } from "../../domain/shared/names.js";
import { callerOf } from "../../shared/caller.js";

export const getIssue = (ctx: AppContext): ServiceImpl<typeof IssueService>["getIssue"] => {
  const issueWithCallerRole = compiledIssueWithCallerRole(ctx.db);
  return async (req, context) => {
    // The hottest read takes one round trip. Every role may read, and a
    // non-member learns nothing: NOT_FOUND, as for a missing issue.
    const key = projectKeyOf(req.name);
    const query = issueWithCallerRole(callerOf(context).userUid, key, issueNumberOf(req.name));
    const [row] = (await ctx.db.executeQuery(query)).rows;
    if (!row?.caller_role) throw notFound(req.name);
    return toIssue(row, key);
  };
};
