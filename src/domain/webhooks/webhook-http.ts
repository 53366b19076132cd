import http from "node:http";
import https from "node:https";
import { addressOfUrl, RefusedTargetError, type TargetPolicy } from "./webhook-targets.js";

/** A response is read up to this many bytes, then the connection is closed. */
export const RESPONSE_READ_BYTES = 64 * 1024;
/** The start of a response body that is kept, for people to see in ListWebhookDeliveries. */
export const RESPONSE_KEPT_BYTES = 1024;

export interface PostOutcome {
  /** 0 when there was no response. */
  statusCode: number;
  /** The first RESPONSE_KEPT_BYTES of the body, as UTF-8 (invalid sequences replaced). */
  body: string;
  /** Why it failed; undefined for a 2xx answer. */
  error: string | undefined;
  /** Set when `signal` (shutdown) ended it: no outcome to record. */
  aborted: boolean;
}

/**
 * POSTs `body` to `url` once: no redirects followed (a 3xx is a failure),
 * at most `timeoutMs` from connecting to the end of the read, at most
 * RESPONSE_READ_BYTES read, and only to an address `targets` allows (an IP
 * host checked here, a name in the connection's own lookup).
 */
export function postOnce(
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  options: { targets: TargetPolicy; timeoutMs: number; signal: AbortSignal },
): Promise<PostOutcome> {
  const failed = (error: string, statusCode = 0): PostOutcome => ({
    statusCode,
    body: "",
    error,
    aborted: options.signal.aborted,
  });
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(failed("the URL does not parse"));
  }
  const address = addressOfUrl(target);
  const refused = address === undefined ? undefined : options.targets.refusal(address);
  if (refused) return Promise.resolve(failed(`refused: ${refused}`));
  const client = target.protocol === "https:" ? https : http;
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  return new Promise((resolve) => {
    const request = client.request(
      target,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(body.length) },
        lookup: options.targets.lookup,
        // A connection of its own: no pooled socket to an address checked earlier.
        agent: false,
        signal,
      },
      (response) => {
        const statusCode = response.statusCode ?? 0;
        const kept: Buffer[] = [];
        let keptBytes = 0;
        let read = 0;
        response.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (keptBytes < RESPONSE_KEPT_BYTES) {
            const part = chunk.subarray(0, RESPONSE_KEPT_BYTES - keptBytes);
            kept.push(part);
            keptBytes += part.length;
          }
          if (read >= RESPONSE_READ_BYTES) response.destroy();
        });
        // After the end, an error, the read bound or the deadline: the
        // status is what counts, the body is for people.
        response.on("close", () => {
          const text = Buffer.concat(kept).toString("utf8");
          const error =
            statusCode >= 200 && statusCode < 300
              ? undefined
              : statusCode >= 300 && statusCode < 400
                ? `answered ${statusCode} (redirects are not followed${response.headers.location ? `: to ${response.headers.location.slice(0, 200)}` : ""})`
                : `answered ${statusCode}`;
          resolve({ statusCode, body: text, error, aborted: options.signal.aborted });
        });
        response.on("error", () => {});
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (error instanceof RefusedTargetError) return resolve(failed(`refused: ${error.message}`));
      if (options.signal.aborted) return resolve(failed("the server shut down during the attempt"));
      if (signal.aborted) return resolve(failed(`no answer within ${options.timeoutMs} ms`));
      resolve(failed(`${error.code ?? "error"}: ${error.message}`.slice(0, 500)));
    });
    request.end(body);
  });
}
