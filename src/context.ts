import type { Logger } from "pino";
import type { Authenticator } from "./auth/authenticator.js";
import type { Database, DatabaseHandle } from "./db/database.js";
import type { IssueEventBus } from "./db/issue-event-bus.js";
import type { Metrics } from "./observability/metrics.js";
import type { Tracing } from "./observability/tracing.js";
import type { TransportLimits } from "./server/one-port.js";

/**
 * What every handler may use, created once per process and passed to each
 * service: no module-level singletons.
 */
export interface AppContext {
  db: Database;
  database: DatabaseHandle;
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
  metrics: Metrics;
  tracing: Tracing;
}

export interface Limits extends TransportLimits {
  /** Requests a user may make per second, on average... */
  ratePerSecond: number;
  /** ...and in a burst. */
  burst: number;
  /** WatchIssues streams one user may hold open at once. */
  maxWatchStreamsPerUser: number;
  /** The longest deadline a client may ask for; longer ones are refused. */
  maxDeadlineMs: number;
}
