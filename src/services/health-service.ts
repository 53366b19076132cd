import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/proto/grpc/health/v1/health_pb.js";
import type { AppContext } from "../context.js";

const WATCH_INTERVAL_MS = 1_000;

/**
 * grpc.health.v1.Health: every service is SERVING while the database answers
 * and the server is not shutting down. "" names the server as a whole.
 */
export function healthService(ctx: AppContext, serviceNames: string[]) {
  const known = new Set(["", ...serviceNames]);

  async function status(): Promise<ServingStatus> {
    if (ctx.shutdown.aborted) return ServingStatus.NOT_SERVING;
    return (await ctx.database.isReachable()) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  return (router: ConnectRouter) =>
    router.service(Health, {
      async check(req) {
        if (!known.has(req.service))
          throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        return { status: await status() };
      },

      async list() {
        const current = await status();
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const name of known)
          statuses[name] = { $typeName: "grpc.health.v1.HealthCheckResponse", status: current };
        return { statuses };
      },

      // Sends the status now and again whenever it changes, until the client
      // goes away or the server shuts down (after a last NOT_SERVING).
      async *watch(req, context) {
        if (!known.has(req.service)) {
          yield { status: ServingStatus.SERVICE_UNKNOWN };
          return;
        }
        const stop = AbortSignal.any([context.signal, ctx.shutdown]);
        let last: ServingStatus | undefined;
        while (!context.signal.aborted) {
          const current = await status();
          if (current !== last) {
            yield { status: current };
            last = current;
          }
          if (stop.aborted) return;
          await sleep(WATCH_INTERVAL_MS, stop);
        }
      },
    });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
