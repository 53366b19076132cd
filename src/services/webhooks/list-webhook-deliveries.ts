import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { projectFor } from "../../domain/shared/access.js";
import { toDelivery } from "../../domain/webhooks/webhook-mapping.js";
import { findWebhook, pageOfDeliveries } from "../../domain/webhooks/webhook-store.js";
import { callerOf } from "../../shared/caller.js";

export const listWebhookDeliveries =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["listWebhookDeliveries"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "admin");
    const webhook = await findWebhook(ctx.db, project.uid, req.parent);
    const { page, nextPageToken } = await pageOfDeliveries(ctx.db, webhook.uid, req);
    return {
      deliveries: page.map((row) => toDelivery(req.parent, project.key, row, row.event)),
      nextPageToken,
    };
  };
