import type { Logger } from "pino";
import type { Authenticator } from "./auth/authenticator.js";
import type { Database, DatabaseHandle } from "./db/database.js";
import type { ReplicaDatabase } from "./db/replica.js";
import type { IssueEventBus } from "./domain/issue-events/issue-event-bus.js";
import type { WatchStreamCap } from "./domain/issue-events/issue-watch.js";
import type { Metrics } from "./observability/metrics.js";
import type { Tracing } from "./observability/tracing.js";
import type { RateLimiter } from "./shared/rate-limit.js";

/**
 * What every handler may use, created once per process and passed to each
 * service: no module-level singletons.
 */
export interface AppContext {
  db: Database;
  database: DatabaseHandle;
  /** The read replica (DATABASE_REPLICA_URL), for reads that may lag; unset: the primary serves everything. */
  replica: ReplicaDatabase | undefined;
  logger: Logger;
  /** Wakes WatchIssues streams when events are committed, by any process. */
  issueEvents: IssueEventBus;
  /** Aborted when the server starts shutting down; long-lived streams end on it. */
  shutdown: AbortSignal;
  /** Verifies bearer tokens (an OpenID provider's, or the development key's). */
  authenticator: Authenticator;
  /** Token subjects that may read the audit log. */
  instanceAdmins: ReadonlySet<string>;
  limits: Limits;
  /** Per-user rate limits, shared by every process and host. */
  rateLimiter: RateLimiter;
  /** The per-user cap on open WatchIssues streams, shared by every process and host. */
  watchStreams: WatchStreamCap;
  metrics: Metrics;
  tracing: Tracing;
}

export interface Limits extends TransportLimits {
  /** Requests a user may make per second, on average... */
  ratePerSecond: number;
  /** ...and in a burst. */
  burst: number;
  /** WatchIssues streams one user may hold open at once, in all processes together. */
  maxWatchStreamsPerUser: number;
  /** How long a stream's lease lasts unless renewed: a crashed process's streams count this long. */
  watchStreamLeaseMs: number;
  /** The longest deadline a client may ask for; longer ones are refused. */
  maxDeadlineMs: number;
}

export interface TransportLimits {
  /** Longest a client may take to send a connection's first bytes, then each HTTP/1.1 request's headers. */
  headersTimeoutMs: number;
  /** Longest a request may take to arrive in full: an HTTP/1.1 request, or an HTTP/2 stream's until END_STREAM. */
  requestTimeoutMs: number;
  /** An HTTP/2 stream, or an HTTP/1.1 request in progress, that neither sends nor receives for this long is reset. */
  streamIdleTimeoutMs: number;
  /** How long a connection with no request in progress stays open. */
  keepAliveTimeoutMs: number;
  /** Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // Above the 15 s WatchIssues heartbeat, which keeps an idle watch alive.
  streamIdleTimeoutMs: 65_000,
  keepAliveTimeoutMs: 65_000,
  maxConcurrentStreams: 100,
};
