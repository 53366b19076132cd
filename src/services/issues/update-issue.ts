import type { ServiceImpl } from "@connectrpc/connect";
import {
  IssueSchema,
  type IssueService,
  Issue_Priority as Priority,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { dbPriority, snapshotOf, toIssue } from "../../domain/issues/issue-mapping.js";
import { nextStateOf } from "../../domain/issues/issue-rules.js";
import {
  readIssue,
  resolveAssignee,
  resolveLabels,
  setIssueLabels,
} from "../../domain/issues/issue-store.js";
import { diffFields } from "../../domain/shared/issue-events.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { mutate } from "../unit-of-work.js";

const WRITABLE = ["title", "body", "state", "close_reason", "priority", "assignee", "labels"] as const;

export const updateIssue =
  (ctx: AppContext): ServiceImpl<typeof IssueService>["updateIssue"] =>
  (req, context) => {
    const draft = req.issue;
    const name = draft?.name ?? "";
    const fields = maskedFields(req.updateMask, WRITABLE);
    const scope = {
      resource: name,
      role: "writer",
      issue: { name, must: "be live" },
      etag: draft?.etag ?? "",
    } as const;
    return mutate(ctx, context, req, scope, async ({ tx, project, issue: row, ...work }) => {
      if (!row) throw new Error("the scope locks the issue");
      const before = toIssue(row, project.key);
      const state = nextStateOf(row, {
        state: fields.has("state") ? draft?.state : undefined,
        closeReason: fields.has("close_reason") ? draft?.closeReason : undefined,
      });
      const priority =
        fields.has("priority") && draft?.priority !== Priority.UNSPECIFIED
          ? dbPriority(draft?.priority ?? 0)
          : undefined;
      const assigneeUid = fields.has("assignee")
        ? await resolveAssignee(tx, project.uid, draft?.assignee ?? "")
        : row.assignee_uid;
      const labelUids = fields.has("labels")
        ? await resolveLabels(tx, project.uid, project.key, draft?.labels ?? [])
        : undefined;
      await tx
        .updateTable("issues")
        .set((eb) => ({
          title: fields.has("title") ? required(draft?.title, "issue.title") : row.title,
          body: fields.has("body") ? (draft?.body ?? "") : row.body,
          state: state.state,
          close_reason: state.close_reason,
          close_time: state.state !== "closed" ? null : state.closing ? eb.fn("now") : row.close_time,
          priority: priority ?? row.priority,
          assignee_uid: assigneeUid,
        }))
        .where("uid", "=", row.uid)
        .execute();
      if (labelUids) await setIssueLabels(tx, row.uid, labelUids);
      const changes = diffFields(snapshotOf(before), snapshotOf(await readIssue(tx, project, name)));
      // Nothing changed: no new version, no history entry.
      if (changes.length === 0) return before;
      await tx.updateTable("issues").set(work.bump()).where("uid", "=", row.uid).execute();
      await work.event(row, "issue_updated", { changes });
      const after = await readIssue(tx, project, name);
      await work.audit({ resource: name, schema: IssueSchema, before, after });
      return after;
    });
  };
