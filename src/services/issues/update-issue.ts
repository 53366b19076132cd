import type { ServiceImpl } from "@connectrpc/connect";
import { IssueSchema, type IssueService } from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { updateIssueFields, WRITABLE_ISSUE_FIELDS } from "../../domain/issues/issue-changes.js";
import { snapshotOf, toIssue } from "../../domain/issues/issue-mapping.js";
import { bumpIssue, readIssue } from "../../domain/issues/issue-store.js";
import { diffFields } from "../../domain/shared/issue-events.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
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
    return mutate(ctx, context, req, scope, async ({ tx, caller, project, issue: row, ...work }) => {
      if (!row) throw new Error("the scope locks the issue");
      const before = toIssue(row, project.key);
      await updateIssueFields(tx, project, row, req.issue, fields, caller);
      const changes = diffFields(snapshotOf(before), snapshotOf(await readIssue(tx, project, name)));
      // Nothing changed: no new version, no history entry.
      if (changes.length === 0) return before;
      await bumpIssue(tx, row.uid, work.bump());
      await work.event(row, "issue_updated", { changes });
      const after = await readIssue(tx, project, name);
      await work.audit({ resource: name, schema: IssueSchema, before, after });
      return after;
    });
  };
