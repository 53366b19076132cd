import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, type Interceptor } from "@connectrpc/connect";
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RetryInfoSchema } from "../../gen/proto/google/rpc/error_details_pb.js";
import { apiError } from "./errors.js";
import { principalKey } from "./request-context.js";

/**
 * Per-user rate limiting (OWASP API4): `ratePerSecond` on average with bursts
 * up to `burst`. Over the limit: RESOURCE_EXHAUSTED with a RetryInfo detail
 * and a Retry-After header saying when to come back. Per process; behind a
 * load balancer, each process limits its share.
 */
export function createRateLimitInterceptor(limits: { ratePerSecond: number; burst: number }): Interceptor {
  const limiter = new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: "rate", points: limits.ratePerSecond, duration: 1 }),
    new RateLimiterMemory({ keyPrefix: "burst", points: limits.burst, duration: 10 }),
  );
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (!principal) return next(req);
    try {
      await limiter.consume(principal.subject);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryMs = Math.max(rejection.msBeforeNext, 1);
      const error = apiError(
        Code.ResourceExhausted,
        "RATE_LIMITED",
        `too many requests; retry in ${retryMs} ms`,
        {
          metadata: { retry_after_ms: String(retryMs) },
        },
      );
      error.details.push({
        desc: RetryInfoSchema,
        value: {
          retryDelay: create(DurationSchema, {
            seconds: BigInt(Math.floor(retryMs / 1000)),
            nanos: (retryMs % 1000) * 1e6,
          }),
        },
      });
      error.metadata.set("retry-after", String(Math.ceil(retryMs / 1000)));
      throw error;
    }
    return next(req);
  };
}
