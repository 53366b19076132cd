import type { IssueRelation_Type as Type } from "../../../gen/proto/tracker/v1/relation_pb.js";
import { IssueRelationSchema } from "../../../gen/proto/tracker/v1/relation_pb.js";
import { DomainError, failedPrecondition, invalidArgument } from "../../domain/errors.js";
import type { IssueRow } from "../../domain/issues/issue-mapping.js";
import { issueDeleted } from "../../domain/issues/issue-rules.js";
import { relationChanges, storedAs, toIssueRelation } from "../../domain/relations/relation-mapping.js";
import { findReadableIssue, insertRelation } from "../../domain/relations/relation-store.js";
import { issueName, issueNumberOf, projectKeyOf, projectName } from "../../domain/shared/names.js";
import type { Work } from "../unit-of-work.js";

/**
 * Relates the locked issue `issue` to `relatedName` (which the caller must
 * be able to read: NOT_FOUND otherwise, as for a missing issue) and records
 * it in the issue's history and the audit log. The caller bumps the issue.
 * An existing relation is ALREADY_EXISTS, or, with `existing: "keep"`, left
 * as it is (undefined).
 */
export async function relate(
  work: Omit<Work<unknown>, "issue" | "target">,
  issue: IssueRow,
  type: Type,
  relatedName: string,
  field: string,
  options: { existing?: "refuse" | "keep" } = {},
) {
  const { tx, caller, project } = work;
  const name = issueName(project.key, issue.number);
  if (projectKeyOf(relatedName) === project.key && issueNumberOf(relatedName) === issue.number) {
    throw invalidArgument(
      field,
      "is the issue itself; an issue cannot be related to itself",
      "RELATED_TO_SELF",
    );
  }
  const related = await findReadableIssue(tx, caller, relatedName);
  if (related.delete_time !== null) throw issueDeleted(relatedName, true);
  // Nothing changes in a deleted project, its issues' relations included.
  if (related.project_delete_time !== null) {
    const project = projectName(projectKeyOf(relatedName));
    throw failedPrecondition("PROJECT_DELETED", `${project} is deleted; undelete it first`, project);
  }
  const { kind, isSubject } = storedAs(type);
  const [subject_uid, object_uid] = isSubject ? [issue.uid, related.uid] : [related.uid, issue.uid];
  const row = await insertRelation(tx, { subject_uid, object_uid, kind, creator_uid: caller.userUid });
  if (!row) {
    if (options.existing === "keep") return undefined;
    throw new DomainError(
      "already_exists",
      "RELATION_EXISTS",
      `${name} already has this relation to ${relatedName}`,
      {
        resource: name,
      },
    );
  }
  const relation = toIssueRelation(
    {
      ...row,
      kind,
      creator_uid: caller.userUid,
      is_subject: isSubject,
      related_project_key: projectKeyOf(relatedName),
      related_number: related.number,
    },
    project.key,
    issue.number,
  );
  await work.event(issue, "relation_created", {
    relationUid: row.uid,
    changes: relationChanges(relation, true),
  });
  await work.audit({ resource: relation.name, schema: IssueRelationSchema, after: relation });
  return relation;
}
