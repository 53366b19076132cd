import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { batchGetIssues } from "./batch-get-issues.js";
import { createIssue } from "./create-issue.js";
import { deleteIssue } from "./delete-issue.js";
import { getIssue } from "./get-issue.js";
import { listIssueEvents } from "./list-issue-events.js";
import { listIssues } from "./list-issues.js";
import { undeleteIssue } from "./undelete-issue.js";
import { updateIssue } from "./update-issue.js";
import { watchIssues } from "./watch-issues.js";

/** `replaced`: handlers served instead of these (the bench's ablation only). */
export function issueService(ctx: AppContext, replaced?: Partial<ServiceImpl<typeof IssueService>>) {
  return (router: ConnectRouter) =>
    router.service(IssueService, {
      getIssue: getIssue(ctx),
      batchGetIssues: batchGetIssues(ctx),
      listIssues: listIssues(ctx),
      createIssue: createIssue(ctx),
      updateIssue: updateIssue(ctx),
      deleteIssue: deleteIssue(ctx),
      undeleteIssue: undeleteIssue(ctx),
      listIssueEvents: listIssueEvents(ctx),
      watchIssues: watchIssues(ctx),
      ...replaced,
    });
}
