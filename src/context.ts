import type { Logger } from "pino";
import type { Database, DatabaseHandle } from "./db/database.js";

/**
 * What every handler may use, created once per process and passed to each
 * service: no module-level singletons.
 */
export interface AppContext {
  db: Database;
  database: DatabaseHandle;
  logger: Logger;
  /** Aborted when the server starts shutting down; long-lived streams end on it. */
  shutdown: AbortSignal;
}
