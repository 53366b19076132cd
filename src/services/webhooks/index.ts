import type { ConnectRouter } from "@connectrpc/connect";
import { WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { createWebhook } from "./create-webhook.js";
import { deleteWebhook } from "./delete-webhook.js";
import { getWebhook } from "./get-webhook.js";
import { listWebhookDeliveries } from "./list-webhook-deliveries.js";
import { listWebhooks } from "./list-webhooks.js";
import { redeliverWebhookDelivery } from "./redeliver-webhook-delivery.js";
import { updateWebhook } from "./update-webhook.js";

export function webhookService(ctx: AppContext) {
  return (router: ConnectRouter) =>
    router.service(WebhookService, {
      getWebhook: getWebhook(ctx),
      listWebhooks: listWebhooks(ctx),
      createWebhook: createWebhook(ctx),
      updateWebhook: updateWebhook(ctx),
      deleteWebhook: deleteWebhook(ctx),
      listWebhookDeliveries: listWebhookDeliveries(ctx),
      redeliverWebhookDelivery: redeliverWebhookDelivery(ctx),
    });
}
