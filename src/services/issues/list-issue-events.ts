import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { listIssueEvents as listEvents } from "../../domain/issue-events/issue-event-store.js";
import { findIssue } from "../../domain/issues/issue-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const listIssueEvents =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["listIssueEvents"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    // The parent is the project (its whole history) or one of its issues.
    const issueUid = req.parent.includes("/issues/")
      ? (await findIssue(ctx.db, project.uid, req.parent)).uid
      : undefined;
    return listEvents(ctx.db, project, issueUid, req);
  };
