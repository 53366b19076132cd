import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { WebhookDeliverySchema, type WebhookService } from "../../../gen/proto/tracker/v1/webhook_pb.js";
import type { AppContext } from "../../context.js";
import { toDelivery, webhookOfDelivery } from "../../domain/webhooks/webhook-mapping.js";
import { eventOfDelivery, findDelivery, queueRedelivery } from "../../domain/webhooks/webhook-store.js";
import { mutate } from "../unit-of-work.js";
import { webhookScope } from "./webhook-scope.js";

export const redeliverWebhookDelivery =
  (ctx: AppContext): ServiceImpl<typeof WebhookService>["redeliverWebhookDelivery"] =>
  (req, context) => {
    const webhook = webhookOfDelivery(req.name);
    return mutate(ctx, context, req, webhookScope(webhook, ""), async ({ tx, project, target, ...work }) => {
      const first = await findDelivery(tx, target.uid, req.name);
      const again = await queueRedelivery(tx, first);
      const delivery = toDelivery(webhook, project.key, again, await eventOfDelivery(tx, again));
      // The audit names the new delivery and the one it repeats; the event is in the history already.
      await work.audit({
        resource: delivery.name,
        schema: WebhookDeliverySchema,
        after: create(WebhookDeliverySchema, { name: delivery.name, redeliveryOf: delivery.redeliveryOf }),
      });
      return delivery;
    });
  };
