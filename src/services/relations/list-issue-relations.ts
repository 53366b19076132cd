import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueRelationService } from "../../../gen/proto/tracker/v1/relation_pb.js";
import type { AppContext } from "../../context.js";
import { findIssue } from "../../domain/issues/issue-store.js";
import { toIssueRelation } from "../../domain/relations/relation-mapping.js";
import { pageOfRelations } from "../../domain/relations/relation-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const listIssueRelations =
  (ctx: AppContext): ServiceImpl<typeof IssueRelationService>["listIssueRelations"] =>
  async (req, context) => {
    const caller = callerOf(context);
    const project = await projectFor(ctx.db, caller, req.parent, "reader");
    const issue = await findIssue(ctx.db, project.uid, req.parent);
    const { page, nextPageToken } = await pageOfRelations(ctx.db, caller, issue.uid, req);
    return {
      issueRelations: page.map((row) => toIssueRelation(row, project.key, issue.number)),
      nextPageToken,
    };
  };
