import type { ConnectRouter } from "@connectrpc/connect";
import { IssueRelationService } from "../../../gen/proto/tracker/v1/relation_pb.js";
import type { AppContext } from "../../context.js";
import { createIssueRelation } from "./create-issue-relation.js";
import { deleteIssueRelation } from "./delete-issue-relation.js";
import { listIssueRelations } from "./list-issue-relations.js";

export function issueRelationService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(IssueRelationService, {
      listIssueRelations: listIssueRelations(ctx),
      createIssueRelation: createIssueRelation(ctx),
      deleteIssueRelation: deleteIssueRelation(ctx),
    });
}
