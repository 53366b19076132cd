import type { ServiceImpl } from "@connectrpc/connect";
import {
  IssueSchema,
  type IssueService,
  Issue_Priority as Priority,
} from "../../../gen/proto/tracker/v1/issue_pb.js";
import type { AppContext } from "../../context.js";
import { required } from "../../domain/errors.js";
import { dbPriority, snapshotOf } from "../../domain/issues/issue-mapping.js";
import { nextStateOf } from "../../domain/issues/issue-rules.js";
import {
  addIssueLabels,
  readIssue,
  resolveAssignee,
  resolveLabels,
  takeIssueNumber,
} from "../../domain/issues/issue-store.js";
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
        const draft = req.issue;
        const state = nextStateOf(
          { state: "open", close_reason: null, close_time: null },
          { state: draft?.state, closeReason: draft?.closeReason },
        );
        const assigneeUid = await resolveAssignee(tx, project.uid, draft?.assignee ?? "");
        const labelUids = await resolveLabels(tx, project.uid, project.key, draft?.labels ?? []);
        const number = await takeIssueNumber(tx, project.uid);
        const { uid } = await tx
          .insertInto("issues")
          .values((eb) => ({
            project_uid: project.uid,
            number,
            title: required(draft?.title, "issue.title"),
            body: draft?.body ?? "",
            state: state.state,
            close_reason: state.close_reason,
            close_time: state.state === "closed" ? eb.fn("now") : null,
            priority: dbPriority(draft?.priority ?? Priority.UNSPECIFIED) ?? "none",
            reporter_uid: caller.userUid,
            assignee_uid: assigneeUid,
          }))
          .returning("uid")
          .executeTakeFirstOrThrow();
        await addIssueLabels(tx, uid, labelUids);
        const issue = await readIssue(tx, project, `${req.parent}/issues/${number}`);
        await work.event({ uid, number }, "issue_created", { changes: diffFields({}, snapshotOf(issue)) });
        await work.audit({ resource: issue.name, schema: IssueSchema, after: issue });
        return issue;
      },
    );
