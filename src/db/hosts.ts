import pg from "pg";
import {
  abandoned,
  abandonedError,
  type Backend,
  callInProgress,
  cancelBackend,
  isRollback,
} from "./cancellation.js";

/**
 * libpq's multi-host URLs, which node-postgres cannot parse:
 * `postgres://u@h1:5432,h2:5433/db` and `postgres://u@/db?host=h1,h2&port=5432,5433`,
 * with a `target_session_attrs`: for the primary (DATABASE_URL) `any` (the
 * default) or `read-write` (`primary`); for a replica (DATABASE_REPLICA_URL)
 * `any`, `read-only`, `standby` or `prefer-standby`.
 */
export interface DatabaseHosts {
  /** One single-host URL per host, in the order given; a single-host URL is itself, unchanged. */
  urls: string[];
  /** Which host will do, as libpq's target_session_attrs says (`primary` is `read-write`). */
  target: SessionTarget;
}

export type SessionTarget = "any" | "read-write" | "read-only" | "standby" | "prefer-standby";

/** What a URL is for: the database tracker writes, or a replica it only reads. */
export type HostsPurpose = "primary" | "replica";

const TARGETS: Record<HostsPurpose, Record<string, SessionTarget>> = {
  primary: { any: "any", "read-write": "read-write", primary: "read-write" },
  replica: { any: "any", "read-only": "read-only", standby: "standby", "prefer-standby": "prefer-standby" },
};

const LIBPQ_ONLY = ["host", "port", "target_session_attrs"];

/** Throws, in words, on a multi-host URL tracker cannot use for `purpose`. */
export function parseDatabaseHosts(url: string, purpose: HostsPurpose = "primary"): DatabaseHosts {
  const match = /^(postgres(?:ql)?:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/.exec(url);
  if (!match) return { urls: [url], target: "any" };
  const [, scheme, authority = "", path = "", search = ""] = match;
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? "" : authority.slice(0, at + 1);
  const query = new URLSearchParams(search);
  const inQuery = query.get("host");
  const hostList = inQuery ?? authority.slice(at + 1);
  const named = hostList === "" ? [] : hostList.split(",");
  // One host (or none): today's URL, exactly as node-postgres has always taken it.
  if (named.length <= 1) return { urls: [url], target: "any" };
  const hosts = named.map((entry) => (inQuery === null ? splitHostPort(entry) : { host: entry, port: "" }));
  const ports = query.get("port")?.split(",");
  if (ports && ports.length !== 1 && ports.length !== hosts.length)
    throw new Error(`${hosts.length} hosts but ${ports.length} ports; give one port, or one per host`);
  const attrs = query.get("target_session_attrs") ?? "any";
  const target = TARGETS[purpose][attrs];
  if (target === undefined)
    throw new Error(
      purpose === "primary"
        ? `target_session_attrs=${attrs}: tracker writes, so it takes "any", "read-write" or "primary" (not a standby)`
        : `target_session_attrs=${attrs}: a replica is only read, so it takes "any", "read-only", "standby" or "prefer-standby"`,
    );
  for (const name of LIBPQ_ONLY) query.delete(name);
  const rest = query.size > 0 ? `?${query}` : "";
  const urls = hosts.map(({ host, port }, i) => {
    const chosenPort = ports ? (ports[ports.length === 1 ? 0 : i] ?? "") : port;
    const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    return `${scheme}${userinfo}${bracketed}${chosenPort ? `:${chosenPort}` : ""}${path}${rest}`;
  });
  return { urls, target };
}

function splitHostPort(entry: string): { host: string; port: string } {
  const found = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(entry);
  if (!found) throw new Error(`"${entry}" is not host or host:port`);
  return { host: found[1] ?? "", port: found[2] ?? "" };
}

/** host:port of each host, for messages (never the URL: it may hold a password). */
export function describeHosts(url: string, purpose: HostsPurpose = "primary"): string {
  return parseDatabaseHosts(url, purpose)
    .urls.map((single) => {
      const { hostname, port } = new URL(single);
      return `${hostname}:${port || 5432}`;
    })
    .join(", ");
}

/**
 * The first host that qualifies, as a single-host URL (Atlas, and each new
 * connection, need one). For read-write it asks `transaction_read_only`
 * rather than pg_is_in_recovery(): both are on for a standby, and the former
 * also turns away a primary made read-only (default_transaction_read_only),
 * which is how test/failover.test.ts stands in for a standby without
 * replication; `standby` asks pg_is_in_recovery(), and `prefer-standby`
 * takes the first host that answers when none is a standby (as libpq does).
 * Throws the last host's failure when none qualifies.
 */
export async function selectHost(
  url: string,
  connectionTimeoutMillis = 5_000,
  purpose: HostsPurpose = "primary",
): Promise<string> {
  const { urls, target } = parseDatabaseHosts(url, purpose);
  const [only] = urls;
  if (urls.length === 1 && only !== undefined) return only;
  let failure: unknown = new Error("no database host");
  let firstAnswering: string | undefined;
  for (const candidate of urls) {
    const probe = new pg.Client({ connectionString: candidate, connectionTimeoutMillis });
    probe.on("error", () => {});
    try {
      await probe.connect();
      if (target === "any") return candidate;
      firstAnswering ??= candidate;
      const { rows } = await probe.query<{ read_only: string; recovery: boolean }>(
        "SELECT current_setting('transaction_read_only') AS read_only, pg_is_in_recovery() AS recovery",
      );
      const [state] = rows;
      if (target === "read-write" && state?.read_only === "off") return candidate;
      if (target === "read-only" && state?.read_only === "on") return candidate;
      if ((target === "standby" || target === "prefer-standby") && state?.recovery) return candidate;
      // 08001, "unable to establish connection": retryable UNAVAILABLE, as for a host that is down.
      failure = Object.assign(new Error(`${new URL(candidate).host} ${whyNot(target)}`), { code: "08001" });
    } catch (error) {
      failure = error;
    } finally {
      await probe.end().catch(() => {});
    }
  }
  if (target === "prefer-standby" && firstAnswering !== undefined) return firstAnswering;
  throw failure;
}

/** Why a host that answered is not the one `target` asks for. */
function whyNot(target: SessionTarget): string {
  if (target === "read-write") return "is read-only (a standby?), and read-write was asked for";
  if (target === "read-only") return "takes writes, and read-only was asked for";
  return "is not a standby, and a standby was asked for";
}

/**
 * pg.Client, but a query without a callback (every one Kysely sends) runs
 * through pg's callback API inside a promise of our own. Through pg's own
 * promise path each result stayed reachable to V8's young-generation
 * collector after its query had ended, though not to a full collection: a
 * paced loop of 50-row queries on one client promoted 2.2 MB of dead rows to
 * the old generation per scavenge that way and 0.07 MB this way (the same
 * loop, Node 24, pg 8.23). Under the bench's ListIssues load the old
 * generation grew by 110 MB between full collections, most of the server's
 * RSS. Why pg's path does it was not found; the measurement is the reason.
 *
 * Each such query also belongs to the API call in progress, if any: it is
 * cancelled when the call is abandoned while it runs, and not sent when the
 * call was abandoned before pg got to it (cancellation.ts).
 */
class CallbackQueryClient extends pg.Client {
  /** Settles where this client connects, before each connect(): with one host, nothing to choose. */
  protected chooseHost(): Promise<void> {
    return Promise.resolve();
  }
}
const pgQuery = pg.Client.prototype.query;
CallbackQueryClient.prototype.query = function queryThroughCallback(
  this: pg.Client,
  config: unknown,
  values?: unknown,
  callback?: unknown,
) {
  const submittable = typeof config === "object" && config !== null && "submit" in config;
  const hasCallback =
    typeof callback === "function" ||
    typeof values === "function" ||
    (typeof config === "object" && config !== null && "callback" in config);
  if (submittable || hasCallback) return Reflect.apply(pgQuery, this, [config, values, callback]);
  // The API call this statement is part of, if any (cancellation.ts).
  const call = callInProgress.getStore();
  return new Promise((resolve, reject) => {
    let sent = false;
    let finished = false;
    let cancelled = false;
    /** The CancelRequest on its way, if one is. */
    let landing: Promise<void> | undefined;
    // Again while the statement runs: a PgBouncer drops a cancel for a
    // client still waiting for a server connection, and the statement then
    // starts once one is free.
    const cancelUntilFinished = async () => {
      while (!finished) {
        cancelled = true;
        landing = cancelBackend(this as unknown as Backend, CANCEL_TIMEOUT_MS);
        await landing;
        landing = undefined;
        if (!finished) await new Promise((wake) => setTimeout(wake, CANCEL_AGAIN_MS).unref());
      }
    };
    const onAbandoned = () => {
      if (sent && abandoned(call)) void cancelUntilFinished();
    };
    const query = new pg.Query(
      config as pg.QueryConfig,
      values as unknown[],
      (error: unknown, result: unknown) => {
        finished = true;
        call?.signal.removeEventListener("abort", onAbandoned);
        const settle = () => {
          // A statement that ended before the cancel landed keeps its answer (a COMMIT stands).
          if (!error) return resolve(result);
          if (cancelled && call) return reject(abandonedError(call));
          // As pg's promise does: a stack from here, not from the socket's read.
          if (error instanceof Error) Error.captureStackTrace(error);
          reject(error);
        };
        // No other statement on this connection until the cancel has landed.
        if (landing) landing.then(settle);
        else settle();
      },
    );
    // A ROLLBACK is what leaves an abandoned call's connection clean: never cancelled, nor refused.
    const text = typeof config === "string" ? config : (config as { text?: unknown }).text;
    if (call && !isRollback(text)) {
      // pg submits a query when the connection is free for it: a call abandoned by then sends nothing.
      const submit = query.submit;
      query.submit = function submitUnlessAbandoned(connection) {
        if (abandoned(call)) return abandonedError(call);
        sent = true;
        return submit.call(this, connection);
      };
      call.signal.addEventListener("abort", onAbandoned, { once: true });
    }
    Reflect.apply(pgQuery, this, [query]);
  });
} as pg.Client["query"];

/** How long a CancelRequest may take before the statement's own answer is taken. */
const CANCEL_TIMEOUT_MS = 5_000;
/** How soon a statement still running after its cancel landed is cancelled again. */
const CANCEL_AGAIN_MS = 500;

/** Errors of a connection that never opened: PostgreSQL refused the session, or was never reached. */
const notConnected = new WeakSet<object>();

/**
 * Whether `error` came from opening a connection, not from a statement: a
 * refusal (the database does not allow connections, does not exist, or
 * rejects the credentials) means the server cannot have its database
 * (UNAVAILABLE), where the same SQLSTATE from a statement would be a bug.
 */
export function failedToConnect(error: unknown): boolean {
  return typeof error === "object" && error !== null && notConnected.has(error);
}

function rethrowAsNotConnected(error: unknown): never {
  if (typeof error === "object" && error !== null) notConnected.add(error);
  throw error;
}

const pgConnect = pg.Client.prototype.connect;
CallbackQueryClient.prototype.connect = function connectMarkingFailure(
  this: CallbackQueryClient,
  callback?: (error: Error | null) => void,
) {
  const connected = this.chooseHost()
    .then(() => Reflect.apply(pgConnect, this, []) as Promise<void>)
    .catch(rethrowAsNotConnected);
  if (!callback) return connected;
  connected.then(() => callback(null), callback);
} as pg.Client["connect"];

/**
 * The pg.Client for `url` (CallbackQueryClient above); for a multi-host URL
 * one that picks its host at connect time, so every new connection (pool or
 * LISTEN) finds the current primary by itself. The pick is a short probe
 * connection, then the real one: one extra connection per new connection,
 * and only with several hosts.
 */
export function clientClass(
  url: string,
  connectionTimeoutMillis = 5_000,
  purpose: HostsPurpose = "primary",
): typeof pg.Client {
  if (parseDatabaseHosts(url, purpose).urls.length === 1) return CallbackQueryClient;
  class FailoverClient extends CallbackQueryClient {
    protected override async chooseHost(): Promise<void> {
      const { hostname, port } = new URL(await selectHost(url, connectionTimeoutMillis, purpose));
      const chosen = { host: hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(port || 5432) };
      Object.assign(this, chosen);
      Object.assign((this as unknown as { connectionParameters: object }).connectionParameters, chosen);
    }
  }
  return FailoverClient;
}

/** A client for `url`, single- or multi-host; connect() it as usual. */
export function newClient(url: string, config: pg.ClientConfig = {}): pg.Client {
  const { urls } = parseDatabaseHosts(url);
  const Client = clientClass(url, config.connectionTimeoutMillis);
  return new Client({ ...config, connectionString: urls[0] });
}
