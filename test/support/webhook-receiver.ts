import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/** One POST the receiver got. */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What the receiver answers to the `nth` (0-based) request for a delivery id. */
export type Answer = (
  request: Received,
  nth: number,
) => { status: number; headers?: Record<string, string>; delayMs?: number };

/**
 * A real HTTP endpoint on 127.0.0.1 that records every request, as a
 * webhook's receiver would see it, and answers as `answer` says (200 unless
 * told otherwise).
 */
export async function startReceiver(answer: Answer = () => ({ status: 200 })) {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const got = { path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks) };
      const id = got.headers["x-tracker-delivery"];
      const nth = received.filter((earlier) => earlier.headers["x-tracker-delivery"] === id).length;
      received.push(got);
      const { status, headers, delayMs = 0 } = receiver.answer(got, nth);
      setTimeout(() => {
        response.writeHead(status, { "content-type": "text/plain", ...headers });
        response.end(`answered ${status}`);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const receiver = {
    answer,
    port,
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** The requests for deliveries, by `X-Tracker-Delivery`. */
    deliveryIds: () => received.map((request) => String(request.headers["x-tracker-delivery"])),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

/**
 * How README "Webhooks" tells receivers to verify a delivery: the
 * timestamped signature, compared in constant time, and a timestamp no
 * older than five minutes.
 */
export function verifyDelivery(secret: string, headers: http.IncomingHttpHeaders, rawBody: Buffer): boolean {
  const timestamp = String(headers["x-tracker-timestamp"] ?? "");
  const signature = String(headers["x-tracker-signature-256-timestamped"] ?? "");
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest("hex")}`;
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
  return (
    fresh &&
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
}
