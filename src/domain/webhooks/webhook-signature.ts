import { createHmac } from "node:crypto";

// How a receiver knows a delivery is ours and fresh (SECURITY.md, README
// "Webhooks"): an HMAC-SHA256 keyed with the webhook's secret, over the
// timestamp and the raw body (so a captured request cannot be replayed
// later), and, for receivers written for GitHub's X-Hub-Signature-256, over
// the body alone.

export const SIGNATURE_HEADER = "x-tracker-signature-256";
export const TIMESTAMPED_SIGNATURE_HEADER = "x-tracker-signature-256-timestamped";
export const TIMESTAMP_HEADER = "x-tracker-timestamp";

const hmacHex = (secret: string, ...parts: (string | Buffer)[]) => {
  const hmac = createHmac("sha256", secret);
  for (const part of parts) hmac.update(part);
  return hmac.digest("hex");
};

/** The signature headers of `body` sent at `unixSeconds`. */
export function signatureHeaders(secret: string, body: Buffer, unixSeconds: number): Record<string, string> {
  const timestamp = String(unixSeconds);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [TIMESTAMPED_SIGNATURE_HEADER]: `sha256=${hmacHex(secret, `${timestamp}.`, body)}`,
    [SIGNATURE_HEADER]: `sha256=${hmacHex(secret, body)}`,
  };
}
