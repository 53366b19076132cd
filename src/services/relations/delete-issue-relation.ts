import type { ServiceImpl } from "@connectrpc/connect";
import { IssueRelationSchema, type IssueRelationService } from "../../../gen/proto/tracker/v1/relation_pb.js";
import type { AppContext } from "../../context.js";
import { bumpIssue } from "../../domain/issues/issue-store.js";
import {
  issueOfRelation,
  relationChanges,
  toIssueRelation,
} from "../../domain/relations/relation-mapping.js";
import { deleteRelation, lockRelation } from "../../domain/relations/relation-store.js";
import { assertFresh } from "../../domain/shared/etag.js";
import { mutate, type Scope } from "../unit-of-work.js";

export const deleteIssueRelation =
  (ctx: AppContext): ServiceImpl<typeof IssueRelationService>["deleteIssueRelation"] =>
  async (req, context) => {
    const issueName = issueOfRelation(req.name);
    const scope: Scope<Awaited<ReturnType<typeof lockRelation>>> = {
      resource: req.name,
      role: "writer",
      issue: { name: issueName, must: "be live" },
      target: async ({ tx, caller, issue }) => {
        const relation = await lockRelation(tx, caller, issue?.uid ?? "", req.name);
        // Relations never change: the etag guarding their removal is the issue's.
        assertFresh(req.etag, issue?.revision ?? 0, issueName);
        return relation;
      },
    };
    await mutate(ctx, context, req, scope, async ({ tx, project, issue, target, ...work }) => {
      if (!issue) throw new Error("the scope locks the issue");
      const relation = toIssueRelation(target, project.key, issue.number);
      await deleteRelation(tx, target.uid);
      await bumpIssue(tx, issue.uid, work.bump());
      await work.event(issue, "relation_deleted", {
        relationUid: target.uid,
        changes: relationChanges(relation, false),
      });
      await work.audit({ resource: req.name, schema: IssueRelationSchema, before: relation });
    });
    return {};
  };
