/**
 * A setting that points at something unusable (a database that does not
 * answer, a data directory in use): the server stops with this message alone,
 * one line that names the setting, and no stack trace.
 */
export class StartupError extends Error {
  override name = "StartupError";
}
