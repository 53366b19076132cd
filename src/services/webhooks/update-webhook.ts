import type { ServiceImpl } from "@connectrpc/connect";
import { WebhookSchema, type WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument } from "../../domain/errors.js";
import { maskedFields } from "../../domain/shared/update-mask.js";
import { toWebhook, WRITABLE_WEBHOOK_FIELDS, webhookChanges } from "../../domain/webhooks/webhook-mapping.js";
import { writeWebhook } from "../../domain/webhooks/webhook-store.js";
import { mutate } from "../unit-of-work.js";
import { webhookScope } from "./webhook-scope.js";

export const updateWebhook =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["updateWebhook"] =>
  (req, context) => {
    const webhook = req.webhook;
    if (!webhook) throw invalidArgument("webhook", "is required");
    const fields = maskedFields(req.updateMask, WRITABLE_WEBHOOK_FIELDS);
    const scope = webhookScope(webhook.name, webhook.etag);
    return mutate(ctx, context, req, scope, async ({ tx, project, target: row, ...work }) => {
      // Checked after the access check: only admins learn why a URL is refused.
      const changes = webhookChanges(webhook, fields, ctx.webhookTargets);
      const before = toWebhook(project.key, row);
      // An empty mask changes nothing (AIP-134), so nothing gets a new etag.
      if (Object.keys(changes).length === 0) return before;
      const after = toWebhook(project.key, await writeWebhook(tx, row.uid, changes, work.bump()));
      await work.audit({ resource: after.name, schema: WebhookSchema, before, after });
      return after;
    });
  };
