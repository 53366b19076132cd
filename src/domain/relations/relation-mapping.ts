import { create } from "@bufbuild/protobuf";
import type { IssueRelationKind } from "../../../gen/db.js";
import {
  type IssueRelation,
  IssueRelationSchema,
  IssueRelation_Type as Type,
} from "../../../gen/proto/tracker/v1/relation_pb.js";
import type { FieldChange } from "../shared/issue-events.js";
import { issueName, relationName, userName } from "../shared/names.js";
import { timestampFromPg } from "../shared/timestamps.js";

// A relation is stored once, as "subject <kind> object"; each of its issues
// sees it with the type that reads from its side: the subject the kind's
// own type (BLOCKS), the object its inverse (BLOCKED_BY).

/** A relation as one of its issues sees it: the other issue, and which side this one is on. */
export interface RelationView {
  uid: string;
  kind: IssueRelationKind;
  creator_uid: string;
  create_time: string;
  /** This issue is the subject (it blocks, duplicates, relates to the other). */
  is_subject: boolean;
  related_project_key: string;
  related_number: string;
}

const FROM_SUBJECT: Record<IssueRelationKind, Type> = {
  blocks: Type.BLOCKS,
  duplicate_of: Type.DUPLICATE_OF,
  relates_to: Type.RELATES_TO,
};
const FROM_OBJECT: Record<IssueRelationKind, Type> = {
  blocks: Type.BLOCKED_BY,
  duplicate_of: Type.DUPLICATED_BY,
  relates_to: Type.RELATES_TO,
};

/** How a relation of `type` made on an issue is stored: its kind, and whether that issue is the subject. */
export function storedAs(type: Type): { kind: IssueRelationKind; isSubject: boolean } {
  for (const [kind, seen] of Object.entries(FROM_SUBJECT)) {
    if (seen === type) return { kind: kind as IssueRelationKind, isSubject: true };
  }
  for (const [kind, seen] of Object.entries(FROM_OBJECT)) {
    if (seen === type) return { kind: kind as IssueRelationKind, isSubject: false };
  }
  // The contract admits defined types only, and not UNSPECIFIED.
  throw new Error(`no relation type ${type}`);
}

export const typeSeenFrom = (view: Pick<RelationView, "kind" | "is_subject">) =>
  (view.is_subject ? FROM_SUBJECT : FROM_OBJECT)[view.kind];

/** The relation as the issue `projects/{projectKey}/issues/{number}` sees it. */
export function toIssueRelation(view: RelationView, projectKey: string, number: string): IssueRelation {
  return create(IssueRelationSchema, {
    name: relationName(projectKey, number, view.uid),
    uid: view.uid,
    type: typeSeenFrom(view),
    relatedIssue: issueName(view.related_project_key, view.related_number),
    creator: userName(view.creator_uid),
    createTime: timestampFromPg(view.create_time),
  });
}

/** What the history of the issue records of a relation made (`made`) or removed. */
export function relationChanges(relation: IssueRelation, made: boolean): FieldChange[] {
  const fields = [
    ["type", `TYPE_${Type[relation.type]}`],
    ["related_issue", relation.relatedIssue],
  ] as const;
  return fields.map(([field, value]) => ({ field, old: made ? null : value, new: made ? value : null }));
}

/** `projects/P/issues/N/relations/U` -> `projects/P/issues/N` */
export const issueOfRelation = (name: string) => name.split("/").slice(0, 4).join("/");
