import type { ServiceImpl } from "@connectrpc/connect";
import type { IssueRelationService } from "../../../gen/proto/tracker/v1/relation_pb.js";
import type { AppContext } from "../../context.js";
import { bumpIssue } from "../../domain/issues/issue-store.js";
import { mutate } from "../unit-of-work.js";
import { relate } from "./relate.js";

export const createIssueRelation =
  (ctx: AppContext): ServiceImpl<typeof IssueRelationService>["createIssueRelation"] =>
  (req, context) => {
    const scope = {
      resource: req.parent,
      role: "writer",
      issue: { name: req.parent, must: "be live" },
    } as const;
    return mutate(ctx, context, req, scope, async ({ issue, ...work }) => {
      if (!issue) throw new Error("the scope locks the issue");
      const draft = req.issueRelation;
      const relation = await relate(
        work,
        issue,
        draft?.type ?? 0,
        draft?.relatedIssue ?? "",
        "issue_relation.related_issue",
      );
      if (!relation) throw new Error("an existing relation is refused");
      await bumpIssue(work.tx, issue.uid, work.bump());
      return relation;
    });
  };
