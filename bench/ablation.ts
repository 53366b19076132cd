/**
 * What the ablation table takes out of the tracker, one row each, in the
 * order a request meets them: the token check, the interceptors
 * (REMOVABLE_LAYERS in src/server/create-server.ts), and one part of
 * GetIssue's handler (bench/tracker-server.ts).
 */
export const ABLATED_LAYERS = {
  "token-check": "token check",
  // The interceptor and the query hook; the bench exports no spans, so this is tracing's cost when off.
  tracing: "tracing",
  "request-log": "request log",
  metrics: "metrics",
  "rate-limit": "rate limit",
  "unknown-fields": "unknown-fields check",
  protovalidate: "protovalidate",
  // Not Kysely's query building: GetIssue compiles its query once in production
  // (compiledIssueWithCallerRole), since this table showed it cost 87 µs a call (d2fb982).
  // One Issue mapped once, then returned every time.
  "row-mapping": "row mapping",
} as const;
export type AblatedLayer = keyof typeof ABLATED_LAYERS;
export const isAblatedLayer = (name: string): name is AblatedLayer => Object.hasOwn(ABLATED_LAYERS, name);
