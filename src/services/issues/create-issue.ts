import type { ServiceImpl } from "@connectrpc/connect";
import { IssueSchema, type IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { insertIssue } from "../../domain/issues/issue-changes.js";
import { snapshotOf } from "../../domain/issues/issue-mapping.js";
import { readIssue } from "../../domain/issues/issue-store.js";
import { diffFields } from "../../domain/shared/issue-events.js";
import { mutate } from "../unit-of-work.js";

export const createIssue =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["createIssue"] =>
  (req, context) =>
    mutate(
      ctx,
      context,
      req,
      { resource: req.parent, role: "writer" },
      async ({ tx, caller, project, ...work }) => {
        const { uid, number } = await insertIssue(tx, project, caller, req.issue);
        const issue = await readIssue(tx, project, `${req.parent}/issues/${number}`);
        await work.event({ uid, number }, "issue_created", { changes: diffFields({}, snapshotOf(issue)) });
        await work.audit({ resource: issue.name, schema: IssueSchema, after: issue });
        return issue;
      },
    );
