import type { Logger } from "pino";
import type { Database, DatabaseHandle } from "./db/database.js";
import type { IssueEventBus } from "./db/issue-event-bus.js";

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
}
