import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { projectFor } from "../../domain/shared/access.js";
import { toWebhook } from "../../domain/webhooks/webhook-mapping.js";
import { findWebhook } from "../../domain/webhooks/webhook-store.js";
import { callerOf } from "../../shared/caller.js";

export const getWebhook =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["getWebhook"] =>
  async (req, context) => {
    // Admins only: a webhook's URL may carry a receiver's credentials in its query.
    const project = await projectFor(ctx.db, callerOf(context), req.name, "admin");
    return toWebhook(project.key, await findWebhook(ctx.db, project.uid, req.name));
  };
