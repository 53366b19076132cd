import { Code, type ConnectError } from "@connectrpc/connect";
import * as hdr from "hdr-histogram-js";
import { ErrorInfoSchema } from "../gen/proto/google/rpc/error_details_pb.js";

/**
 * Who produced an error. "server": the server answered it; its response
 * carries the X-Request-Id header the server sets on every answer, or our
 * ErrorInfo detail. "transport": the client library made it up because no
 * answer came (connection refused or reset, stream torn down, client-side
 * deadline): these are expected while the server is being killed.
 */
export type Origin = "server" | "transport";

export function originOf(error: ConnectError): Origin {
  if (error.metadata.has("x-request-id")) return "server";
  return error.findDetails(ErrorInfoSchema).some((info) => info.domain === "tracker")
    ? "server"
    : "transport";
}

export const codeOf = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

const INTERNAL_CODES = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

export interface ErrorEvent {
  /** Milliseconds since the soak began. */
  at: number;
  procedure: string;
  protocol: string;
  code: string;
  message: string;
}

export class Stats {
  requests = 0;
  ok = 0;
  readonly byProtocol = new Map<string, number>();
  readonly byProcedure = new Map<string, number>();
  /** "UNAVAILABLE (server)", "UNAVAILABLE (transport)", ... */
  readonly errors = new Map<string, number>();
  /** Errors no server answered, with when, to hold against the fault windows. */
  readonly transportErrors: ErrorEvent[] = [];
  /** INTERNAL, UNKNOWN or DATA_LOSS answered by the server. */
  readonly serverInternal: ErrorEvent[] = [];
  /** Latency of successful calls, microseconds. */
  readonly latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000 });
  /** From the first attempt of a mutation to its acknowledgement, retries included. */
  readonly ackLatency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000 });
  retries = 0;
  /** ETag conflicts on the issues every client updates (expected). */
  conflicts = 0;
  readonly operations = new Map<string, number>();
  /** Reads that showed an issue older than a version already acknowledged to the same client. */
  readonly staleReads: string[] = [];
  /** Surprises that are not violations by themselves (rejections of well-formed requests). */
  readonly anomalies = new Map<string, number>();

  constructor(private readonly clock: () => number) {}

  succeeded(procedure: string, protocol: string, micros: number) {
    this.#count(procedure, protocol);
    this.ok += 1;
    this.latency.recordValue(Math.max(1, Math.round(micros)));
  }

  failed(procedure: string, protocol: string, error: ConnectError) {
    this.#count(procedure, protocol);
    const origin = originOf(error);
    const code = codeOf(error.code);
    const key = `${code} (${origin})`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    const event = { at: this.clock(), procedure, protocol, code, message: error.message.slice(0, 300) };
    if (origin === "transport") this.transportErrors.push(event);
    else if (INTERNAL_CODES.has(error.code)) this.serverInternal.push(event);
  }

  anomaly(what: string) {
    this.anomalies.set(what, (this.anomalies.get(what) ?? 0) + 1);
  }

  operation(name: string) {
    this.operations.set(name, (this.operations.get(name) ?? 0) + 1);
  }

  #count(procedure: string, protocol: string) {
    this.requests += 1;
    this.byProtocol.set(protocol, (this.byProtocol.get(protocol) ?? 0) + 1);
    this.byProcedure.set(procedure, (this.byProcedure.get(procedure) ?? 0) + 1);
  }
}

/** A small seeded PRNG (mulberry32): the same seed makes the same choices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
