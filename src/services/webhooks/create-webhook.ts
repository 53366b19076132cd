import type { ServiceImpl } from "@connectrpc/connect";
import { WebhookSchema, type WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { invalidArgument } from "../../domain/errors.js";
import { newWebhook, toWebhook } from "../../domain/webhooks/webhook-mapping.js";
import { insertWebhook } from "../../domain/webhooks/webhook-store.js";
import { mutate } from "../unit-of-work.js";

export const createWebhook =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["createWebhook"] =>
  (req, context) => {
    if (!req.webhook) throw invalidArgument("webhook", "is required");
    const fields = newWebhook(req.webhook, ctx.webhookTargets);
    const scope = { resource: req.parent, role: "admin" } as const;
    return mutate(ctx, context, req, scope, async ({ tx, project, ...work }) => {
      const webhook = toWebhook(project.key, await insertWebhook(tx, project.uid, fields));
      await work.audit({ resource: webhook.name, schema: WebhookSchema, after: webhook });
      return webhook;
    });
  };
