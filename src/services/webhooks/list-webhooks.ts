import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { projectFor } from "../../domain/shared/access.js";
import { toWebhook } from "../../domain/webhooks/webhook-mapping.js";
import { pageOfWebhooks } from "../../domain/webhooks/webhook-store.js";
import { callerOf } from "../../shared/caller.js";

export const listWebhooks =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["listWebhooks"] =>
  async (req, context) => {
    const project = await projectFor(ctx.db, callerOf(context), req.parent, "admin");
    const { page, nextPageToken } = await pageOfWebhooks(ctx.db, project.uid, req);
    return { webhooks: page.map((row) => toWebhook(project.key, row)), nextPageToken };
  };
