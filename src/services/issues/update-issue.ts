import type { ServiceImpl } from "@connectrpc/connect";
import {
  Issue_CloseReason as CloseReason,
  IssueSchema,
  type IssueService,
  Issue_State as State,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import { IssueRelation_Type as RelationType } from "../../../gen/proto/tracker/v1/relation_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument } from "../../domain/errors.js";
import { updateIssueFields, WRITABLE_ISSUE_FIELDS } from "../../domain/issues/issue-changes.js";
import { snapshotOf, toIssue } from "../../domain/issues/issue-mapping.js";
import { bumpIssue, readIssue } from "../../domain/issues/issue-store.js";
import { diffFields } from "../../domain/shared/issue-events.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { relate } from "../relations/relate.js";
import { mutate } from "../unit-of-work.js";

export const updateIssue =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["updateIssue"] =>
  (req, context) => {
    const name = req.issue?.name ?? "";
    const fields = maskedFields(req.updateMask, WRITABLE_ISSUE_FIELDS);
    const scope = {
      resource: name,
      role: "writer",
      issue: { name, must: "be live" },
      etag: req.issue?.etag ?? "",
    } as const;
    return mutate(ctx, context, req, scope, async ({ issue: row, ...work }) => {
      if (!row) throw new Error("the scope locks the issue");
      const { tx, project } = work;
      const before = toIssue(row, project.key);
      await updateIssueFields(tx, project, row, req.issue, fields, work.caller);
      const updated = await readIssue(tx, project, name);
      const changes = diffFields(snapshotOf(before), snapshotOf(updated));
      if (changes.length > 0) await work.event(row, "issue_updated", { changes });
      const duplicateOf =
        req.duplicateOf === ""
          ? undefined
          : await relate(
              work,
              row,
              RelationType.DUPLICATE_OF,
              duplicateOriginal(req.duplicateOf, updated),
              "duplicate_of",
              {
                existing: "keep",
              },
            );
      // Nothing changed: no new version, no history entry.
      if (changes.length === 0 && !duplicateOf) return before;
      await bumpIssue(tx, row.uid, work.bump());
      const after = await readIssue(tx, project, name);
      if (changes.length > 0) await work.audit({ resource: name, schema: IssueSchema, before, after });
      return after;
    });
  };

/** `duplicate_of` names the original only of an issue the update leaves closed as a duplicate. */
function duplicateOriginal(original: string, updated: { state: State; closeReason: CloseReason }): string {
  if (updated.state !== State.CLOSED || updated.closeReason !== CloseReason.DUPLICATE) {
    throw invalidArgument(
      "duplicate_of",
      "is only allowed when the issue is closed as a duplicate (state CLOSED, close_reason DUPLICATE)",
      "NOT_CLOSED_AS_DUPLICATE",
    );
  }
  return original;
}
