import pg from "pg";
import type { Logger } from "pino";
import { ISSUE_EVENTS_CHANNEL } from "../shared/issue-events.js";

/**
 * Wakes watchers when a project's issue events are committed, by any server
 * process: one LISTEN connection per process fans PostgreSQL's notifications
 * out to the streams of this process. A notification only says "look again";
 * watchers read the events themselves, so a missed or doubled notification
 * can delay an event (until the next heartbeat) but never lose or repeat one.
 */
export class IssueEventBus {
  /** Who waits for each project's next change. */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #versions = new Map<string, number>();
  #client: pg.Client | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on("notification", (message) => {
      if (message.channel === ISSUE_EVENTS_CHANNEL && message.payload) this.#wake(message.payload);
    });
    client.on("error", (error) => {
      this.logger.warn({ err: error }, "issue event listener lost its connection; reconnecting");
      this.#reconnect(client);
    });
    client.on("end", () => this.#reconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${ISSUE_EVENTS_CHANNEL}`);
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    this.#client = client;
    // Anything committed while no one listened must be looked for.
    this.#wakeAll();
  }

  #reconnect(client: pg.Client) {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#retryStart();
  }

  /** Tries to listen again in a second, and again every second until it works (or close()). */
  #retryStart() {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) this.start().catch(() => this.#retryStart());
    }, 1_000);
  }

  /** A counter that changes whenever the project may have new events. */
  version(projectUid: string): number {
    return this.#versions.get(projectUid) ?? 0;
  }

  #wake(projectUid: string) {
    this.#versions.set(projectUid, this.version(projectUid) + 1);
    for (const wake of [...(this.#waiters.get(projectUid) ?? [])]) wake();
  }

  #wakeAll() {
    for (const projectUid of this.#versions.keys()) this.#wake(projectUid);
  }

  /**
   * Resolves when the project's version moves past `seen`, when `timeoutMs`
   * passes, or when `signal` aborts; whichever comes first.
   */
  waitForChange(projectUid: string, seen: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.version(projectUid) !== seen || signal.aborted) return Promise.resolve();
    if (!this.#versions.has(projectUid)) this.#versions.set(projectUid, seen);
    // A plain callback per waiter: a commit wakes every watcher of the
    // project, so this is paid a thousand times over with a thousand watchers.
    return new Promise<void>((resolve) => {
      const waiters = this.#waiters.get(projectUid) ?? new Set<() => void>();
      this.#waiters.set(projectUid, waiters);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(projectUid) === waiters) this.#waiters.delete(projectUid);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener("abort", done, { once: true });
      waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#client?.end().catch(() => {});
  }
}
