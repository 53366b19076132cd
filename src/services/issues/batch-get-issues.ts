import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { readIssuesNamed } from "../../domain/issues/issue-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { callerOf } from "../../shared/caller.js";

export const batchGetIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["batchGetIssues"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    return { issues: await readIssuesNamed(ctx.db, project, req.parent, req.names) };
  };
