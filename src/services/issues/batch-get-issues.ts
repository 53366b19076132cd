import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { readIssuesNamed } from "../../domain/issues/issue-store.js";
import { callerOf } from "../../shared/caller.js";

export const batchGetIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["batchGetIssues"] =>
  async (req, context) => {
    // The access check is in the read's query: one round trip (see selectIssuesAsReader).
    return { issues: await readIssuesNamed(ctx.db, callerOf(context), req.parent, req.names) };
  };
