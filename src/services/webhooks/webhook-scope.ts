import type { WebhookRow } from "../../domain/webhooks/webhook-mapping.js";
import { lockWebhook } from "../../domain/webhooks/webhook-store.js";
import type { Scope } from "../unit-of-work.js";

/** What a change of the webhook `name` locks: its project, then the webhook (only admins manage webhooks). */
export const webhookScope = (name: string, etag: string): Scope<WebhookRow> => ({
  resource: name,
  role: "admin",
  target: ({ tx, project }) => lockWebhook(tx, project.uid, name),
  etag,
});
