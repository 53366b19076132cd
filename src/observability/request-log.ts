import type { Logger } from "pino";
import { principalKey, requestIdKey } from "../shared/request-context.js";
import type { RpcObserver } from "./rpc-outcome.js";

const ERROR_CODES = new Set(["internal", "unknown", "data_loss"]);

/**
 * One log line per RPC, when it ends: request id, procedure, protocol, code,
 * duration and principal. Tokens and message bodies are never logged.
 */
export function requestLog(logger: Logger): RpcObserver {
  return {
    record(outcome, _, req) {
      const entry = {
        requestId: req.contextValues.get(requestIdKey),
        procedure: outcome.procedure,
        protocol: outcome.protocol,
        code: outcome.code,
        durationMs: Math.round(outcome.durationMs * 100) / 100,
        principal: req.contextValues.get(principalKey)?.subject,
      };
      logger[ERROR_CODES.has(outcome.code) ? "error" : "info"](entry, "rpc");
    },
  };
}
