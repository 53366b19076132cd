import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { Selectable, Transaction } from "kysely";
import type { DB, Labels } from "../../gen/db.js";
import {
  CreateLabelRequestSchema,
  type Label,
  LabelSchema,
  LabelService,
} from "../../gen/proto/tracker/v1/label_pb.js";
import type { AppContext } from "../context.js";
import type { Database } from "../db/database.js";
import { lockProjectFor, projectFor } from "../shared/access.js";
import { recordAudit } from "../shared/audit.js";
import { callerOf } from "../shared/caller.js";
import { invalidArgument, notFound, required } from "../shared/errors.js";
import { assertFresh, etagOf } from "../shared/etag.js";
import { once } from "../shared/idempotency.js";
import { appendIssueEvent, diffFields } from "../shared/issue-events.js";
import { labelName, lastSegmentOf, projectKeyOf } from "../shared/names.js";
import { decodePageToken, pageSize, paginate } from "../shared/pagination.js";
import type { ProjectRow } from "../shared/projects.js";
import { timestampFromPg } from "../shared/timestamps.js";
import { maskedFields } from "../shared/update-mask.js";
import { selectIssues } from "./issues/issue-rows.js";

type LabelRow = Selectable<Labels>;

/** The fields UpdateLabel may change, by their names in the contract. */
const WRITABLE_FIELDS = ["display_name", "description", "color"] as const;

function toLabel(projectKey: string, row: LabelRow): Label {
  return create(LabelSchema, {
    name: labelName(projectKey, row.key),
    uid: row.uid,
    displayName: row.display_name,
    description: row.description,
    color: row.color,
    createTime: timestampFromPg(row.create_time),
    updateTime: timestampFromPg(row.update_time),
    etag: etagOf(row.revision),
  });
}

/** The label `name` of a project (live or deleted); NOT_FOUND when there is none. */
async function findLabel(db: Database, project: ProjectRow, name: string): Promise<LabelRow> {
  const row = await db
    .selectFrom("labels")
    .selectAll()
    .where("project_uid", "=", project.uid)
    .where("key", "=", lastSegmentOf(name))
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/** The label `name` of a project the transaction holds locked (lockProjectFor), locked for a change. */
async function lockLabel(tx: Transaction<DB>, project: ProjectRow, name: string): Promise<LabelRow> {
  const row = await tx
    .selectFrom("labels")
    .selectAll()
    .where("project_uid", "=", project.uid)
    .where("key", "=", lastSegmentOf(name))
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound(name);
  return row;
}

/**
 * Takes a label off every issue that carries it, as if each issue had been
 * updated: a new revision and update_time, and an `issue_updated` event with
 * the issue's label names before and after. Call it before deleting the
 * label, while the issue_labels rows that the delete cascades to still exist.
 */
async function takeOffIssues(
  tx: Transaction<DB>,
  project: ProjectRow,
  label: LabelRow,
  actorUid: string,
): Promise<void> {
  // Soft-deleted issues lose the label too, so their history says so. The
  // issues' own query gives their labels in the order the API shows them.
  const carriers = await selectIssues(tx, project.uid)
    .where("issues.uid", "in", (eb) =>
      eb.selectFrom("issue_labels").select("issue_uid").where("label_uid", "=", label.uid),
    )
    .orderBy("issues.number")
    .forUpdate("issues")
    .execute();
  if (carriers.length === 0) return;

  await tx
    .updateTable("issues")
    .set((eb) => ({ revision: eb("revision", "+", 1), update_time: eb.fn("now") }))
    .where(
      "uid",
      "in",
      carriers.map((issue) => issue.uid),
    )
    .execute();

  const removed = labelName(project.key, label.key);
  for (const issue of carriers) {
    const before = issue.label_keys.map((key) => labelName(project.key, key));
    await appendIssueEvent(tx, {
      projectUid: project.uid,
      issueUid: issue.uid,
      issueNumber: issue.number,
      actorUid,
      kind: "issue_updated",
      changes: diffFields({ labels: before }, { labels: before.filter((name) => name !== removed) }),
    });
  }
}

type ListCursor = string;
const isListCursor = (value: unknown): value is ListCursor => typeof value === "string";

export function labelService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(LabelService, {
      async getLabel(req, context) {
        const project = await projectFor(ctx.db, callerOf(context), req.name, "reader");
        const row = await findLabel(ctx.db, project, req.name);
        return toLabel(projectKeyOf(req.name), row);
      },

      async listLabels(req, context) {
        // Deleted projects keep their labels readable, as GetProject returns them.
        const project = await projectFor(ctx.db, callerOf(context), req.parent, "reader");
        const size = pageSize(req.pageSize);
        const query = { method: "ListLabels", parent: req.parent };
        const after = decodePageToken(req.pageToken, query, isListCursor);
        let select = ctx.db
          .selectFrom("labels")
          .selectAll()
          .where("project_uid", "=", project.uid)
          .orderBy("key")
          .limit(size + 1);
        if (after !== undefined) select = select.where("key", ">", after);
        const { page, nextPageToken } = paginate(
          await select.execute(),
          size,
          query,
          (row): ListCursor => row.key,
        );
        return { labels: page.map((row) => toLabel(project.key, row)), nextPageToken };
      },

      async createLabel(req, context) {
        const caller = callerOf(context);
        const displayName = required(req.label?.displayName, "label.display_name");
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, req.parent, "writer");
          return once(
            tx,
            { caller, project },
            {
              method: "CreateLabel",
              requestSchema: CreateLabelRequestSchema,
              request: req,
              responseSchema: LabelSchema,
            },
            async () => {
              const row = await tx
                .insertInto("labels")
                .values({
                  project_uid: project.uid,
                  key: req.labelId,
                  display_name: displayName,
                  description: req.label?.description ?? "",
                  color: req.label?.color ?? "",
                })
                .returningAll()
                .executeTakeFirstOrThrow();
              const created = toLabel(project.key, row);
              await recordAudit(tx, context, { resource: created.name, schema: LabelSchema, after: created });
              return created;
            },
          );
        });
      },

      async updateLabel(req, context) {
        const caller = callerOf(context);
        const label = req.label;
        if (!label) throw invalidArgument("label", "is required");
        const fields = maskedFields(req.updateMask, WRITABLE_FIELDS);
        if (fields.has("display_name")) required(label.displayName, "label.display_name");
        return ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, label.name, "writer");
          const row = await lockLabel(tx, project, label.name);
          assertFresh(label.etag, row.revision, label.name);
          // An empty mask changes nothing (AIP-134), so nothing gets a new etag.
          if (fields.size === 0) return toLabel(project.key, row);
          const updated = await tx
            .updateTable("labels")
            .set((eb) => ({
              ...(fields.has("display_name") && { display_name: label.displayName }),
              ...(fields.has("description") && { description: label.description }),
              ...(fields.has("color") && { color: label.color }),
              revision: eb("revision", "+", 1),
              update_time: eb.fn("now"),
            }))
            .where("uid", "=", row.uid)
            .returningAll()
            .executeTakeFirstOrThrow();
          const changed = toLabel(project.key, updated);
          await recordAudit(tx, context, {
            resource: changed.name,
            schema: LabelSchema,
            before: toLabel(project.key, row),
            after: changed,
          });
          return changed;
        });
      },

      async deleteLabel(req, context) {
        const caller = callerOf(context);
        await ctx.db.transaction().execute(async (tx) => {
          const project = await lockProjectFor(tx, caller, req.name, "writer");
          const row = await lockLabel(tx, project, req.name);
          assertFresh(req.etag, row.revision, req.name);
          await takeOffIssues(tx, project, row, caller.userUid);
          await tx.deleteFrom("labels").where("uid", "=", row.uid).execute();
          await recordAudit(tx, context, {
            resource: req.name,
            schema: LabelSchema,
            before: toLabel(project.key, row),
          });
        });
        return {};
      },
    });
}
