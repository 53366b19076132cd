import type { CompiledQuery, Kysely } from "kysely";
import type { DB } from "../gen/db.js";
import { selectIssueWithCallerRole } from "../src/domain/issues/issue-store.js";

/**
 * What the ablation table takes out of the tracker, one row each, in the
 * order a request meets them: the token check, the interceptors
 * (REMOVABLE_LAYERS in src/server/create-server.ts), and two parts of
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
  // GetIssue's query compiled once, its values bound per call.
  "query-building": "Kysely query building",
  // One Issue mapped once, then returned every time.
  "row-mapping": "row mapping",
} as const;
export type AblatedLayer = keyof typeof ABLATED_LAYERS;
export const isAblatedLayer = (name: string): name is AblatedLayer => Object.hasOwn(ABLATED_LAYERS, name);

// Placeholders compiled into GetIssue's SQL, then replaced by each call's values.
const CALLER = "$CALLER";
const PROJECT_KEY = "$PROJECT_KEY";
const NUMBER = "$NUMBER";

/**
 * GetIssue's query (selectIssueWithCallerRole), built and compiled by Kysely
 * once: each call only puts its values in. The database limit and the
 * ablation's "query building off" both run it.
 */
export function precompiledGetIssue(db: Kysely<DB>) {
  const compiled = selectIssueWithCallerRole(db, CALLER, PROJECT_KEY, NUMBER).compile();
  return (callerUid: string, projectKey: string, number: string): typeof compiled => {
    const values: Record<string, string> = {
      [CALLER]: callerUid,
      [PROJECT_KEY]: projectKey,
      [NUMBER]: number,
    };
    return {
      ...compiled,
      parameters: compiled.parameters.map((p) => (typeof p === "string" && p in values ? values[p] : p)),
    } satisfies CompiledQuery;
  };
}
