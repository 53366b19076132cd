import type { ServiceImpl } from "@connectrpc/connect";
import { WebhookSchema, type WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { toWebhook } from "../../domain/webhooks/webhook-mapping.js";
import { deleteWebhookRow } from "../../domain/webhooks/webhook-store.js";
import { mutate } from "../unit-of-work.js";
import { webhookScope } from "./webhook-scope.js";

export const deleteWebhook =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["deleteWebhook"] =>
  async (req, context) => {
    await mutate(
      ctx,
      context,
      req,
      webhookScope(req.name, req.etag),
      async ({ tx, project, target, ...work }) => {
        await deleteWebhookRow(tx, target.uid);
        await work.audit({
          resource: req.name,
          schema: WebhookSchema,
          before: toWebhook(project.key, target),
        });
      },
    );
    return {};
  };
