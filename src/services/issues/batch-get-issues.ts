import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument, notFound } from "../../domain/errors.js";
import { toIssue } from "../../domain/issues/issue-mapping.js";
import { selectIssues } from "../../domain/issues/issue-store.js";
import { projectFor } from "../../domain/shared/access.js";
import { issueNumberOf, projectKeyOf } from "../../domain/shared/names.js";
import { callerOf } from "../../shared/caller.js";

export const batchGetIssues =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["batchGetIssues"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
    const numbers = req.names.map((name, index) => {
      if (projectKeyOf(name) !== project.key) {
        throw invalidArgument(
          `names[${index}]`,
          `is not an issue of ${req.parent}`,
          "ISSUE_OF_OTHER_PROJECT",
        );
      }
      return issueNumberOf(name);
    });
    const rows = await selectIssues(ctx.db, project.uid).where("number", "in", numbers).execute();
    const byNumber = new Map(rows.map((row) => [row.number, row]));
    // AIP-231: all or nothing, in the order asked.
    const issues = req.names.map((name, index) => {
      const row = byNumber.get(numbers[index] ?? "");
      if (!row) throw notFound(name);
      return toIssue(row, project.key);
    });
    return { issues };
  };
