import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { setDeleted } from "./issue-deletion.js";

export const deleteIssue =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["deleteIssue"] =>
  (req, context) =>
    setDeleted(ctx, context, req, true);
