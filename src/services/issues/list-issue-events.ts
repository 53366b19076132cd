import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { listIssueEvents as listEvents } from "../../domain/issue-events/issue-event-store.js";
import { findIssue } from "../../domain/issues/issue-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { read } from "../unit-of-work.js";

export const listIssueEvents =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["listIssueEvents"] =>
  (req, context) =>
    read(ctx, context, { resource: req.parent }, async ({ db, caller }) => {
      const project = await projectFor(db, caller, req.parent, "reader");
      // The parent is the project (its whole history) or one of its issues.
      const issueUid = req.parent.includes("/issues/")
        ? (await findIssue(db, project.uid, req.parent)).uid
        : undefined;
      return listEvents(db, caller.userUid, project, issueUid, req);
    });
