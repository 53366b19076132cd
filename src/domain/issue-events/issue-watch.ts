import { randomInt, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { type Kysely, sql } from "kysely";
import type { Logger } from "pino";
import type { DB } from "../../../gen/db.js";
import type { IssueEvent } from "../../../gen/proto/tracker/v1/issue_pb.js";
import { DomainError } from "../errors.js";
import { type ProjectAccess, projectFor } from "../shared/access.js";
import type { Caller } from "../shared/caller.js";
import { findProject } from "../shared/projects.js";
import type { IssueEventBus } from "./issue-event-bus.js";
import { eventsAfter, eventsAsSeenBy, toIssueEvent } from "./issue-event-store.js";

// WatchIssues without the protocol: the per-user cap on open streams (in
// every process), and
// the follow loop, whose streams share the reads and access checks their
// wake-ups have in common.

/** How often an idle watch stream sends a heartbeat (keeps proxies from closing it). */
const WATCH_HEARTBEAT_MS = 15_000;
const WATCH_BATCH = 500;

/** What a watch stream delivers: an event at its position, or the position alone (the opening, a heartbeat). */
export interface WatchUpdate {
  position: bigint;
  event?: IssueEvent;
}

/** What a watcher reads at once: events, and the project's access revision as of the same snapshot. */
interface WatchBatch {
  accessRevision: number;
  events: Array<{ sequence: string; event: IssueEvent }>;
  /** More events follow these (the batch ended by count or by bytes). */
  more: boolean;
}

/**
 * Each open stream holds a socket and wakes on every event: so many per
 * user, counted across every process and host as leases in PostgreSQL
 * (watch_stream_leases), one per slot of the user's `limit`. A take claims
 * a free or lapsed slot in one statement, with no lock and no transaction,
 * so a thousand streams opened at once are a thousand single inserts, not a
 * queue on one user's lock. The process renews its leases together, one
 * statement a third of a lease apart, and deletes one when its stream ends;
 * a crashed process's leases lapse after `leaseMs`.
 */
export class WatchStreamCap {
  /** This process: a restarted one with the same pid holds nothing of its predecessor's. */
  readonly #holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** The leases this process holds, by id. */
  readonly #held = new Map<string, { userUid: string; slot: number }>();
  readonly #renewal: NodeJS.Timeout;
  #renewing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<DB>,
    readonly limit: number,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {
    this.#renewal = setInterval(() => {
      this.#renewing = this.#renew();
    }, leaseMs / 3).unref();
  }

  /** Takes one of the user's streams, or refuses with TOO_MANY_STREAMS; call the result to give it back. */
  async take(userUid: string): Promise<() => Promise<void>> {
    const id = randomUUID();
    let slot: number | undefined;
    // A take that lost its slot to a concurrent one tries another; a few
    // losses in a row mean the slots are going fast, so it refuses.
    for (let attempt = 0; attempt < TAKE_ATTEMPTS && slot === undefined; attempt++) {
      const claim = await this.#claim(id, userUid);
      if (claim.full) break;
      slot = claim.slot;
    }
    if (slot === undefined) {
      throw new DomainError(
        "resource_exhausted",
        "TOO_MANY_STREAMS",
        `you already have ${this.limit} WatchIssues streams open; close one first`,
        { limit: String(this.limit) },
      );
    }
    this.#held.set(id, { userUid, slot });
    return async () => {
      this.#held.delete(id);
      // A renewal under way may write the lease again: delete it after.
      await this.#renewing;
      await this.db
        .deleteFrom("watch_stream_leases")
        .where("id", "=", id)
        .execute()
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, "could not delete a watch stream's lease; it lapses by itself"),
        );
    };
  }

  /**
   * The first slot not held by a live lease, starting at a random one (so
   * concurrent takes seldom pick the same), claimed unless another take got
   * it first: `full` when no slot was free.
   */
  async #claim(id: string, userUid: string): Promise<{ full: boolean; slot?: number }> {
    const from = randomInt(this.limit);
    const { rows } = await sql<{ candidates: string; slot: number | null }>`
      WITH candidate AS (
        SELECT (n % ${this.limit})::int AS slot
        FROM generate_series(${from}::int, ${from + this.limit - 1}::int) AS n
        WHERE NOT EXISTS (
          SELECT 1 FROM watch_stream_leases l
          WHERE l.user_uid = ${userUid} AND l.slot = n % ${this.limit} AND l.expires_at > now()
        )
        LIMIT 1
      ), taken AS (
        INSERT INTO watch_stream_leases (id, user_uid, slot, holder, expires_at)
        SELECT ${id}, ${userUid}, slot, ${this.#holder}, ${this.#expiry()} FROM candidate
        ON CONFLICT (user_uid, slot) DO UPDATE
          SET id = excluded.id, holder = excluded.holder, expires_at = excluded.expires_at
          WHERE watch_stream_leases.expires_at <= now()
        RETURNING slot
      )
      SELECT (SELECT count(*) FROM candidate) AS candidates, (SELECT slot FROM taken) AS slot`.execute(
      this.db,
    );
    const row = rows[0];
    return { full: Number(row?.candidates ?? 0) === 0, slot: row?.slot ?? undefined };
  }

  /** Stops renewing, and gives back whatever this process still holds. */
  async close(): Promise<void> {
    clearInterval(this.#renewal);
    await this.#renewing;
    this.#held.clear();
    await this.db
      .deleteFrom("watch_stream_leases")
      .where("holder", "=", this.#holder)
      .execute()
      .catch(() => {});
  }

  #expiry() {
    return sql<string>`now() + make_interval(secs => ${this.leaseMs / 1000})`;
  }

  /**
   * Extends every lease this process holds, writing again any another
   * process swept after an outage longer than a lease (those streams are
   * still open, so they count, unless their slot was taken meanwhile), and
   * deletes lapsed ones.
   */
  async #renew() {
    try {
      if (this.#held.size > 0) {
        const held = [...this.#held];
        await sql`WITH extended AS (
            UPDATE watch_stream_leases SET expires_at = ${this.#expiry()}
            WHERE id = ANY(${held.map(([id]) => id)}::uuid[]) RETURNING id
          )
          INSERT INTO watch_stream_leases (id, user_uid, slot, holder, expires_at)
          SELECT id, user_uid, slot, ${this.#holder}, ${this.#expiry()}
          FROM unnest(${held.map(([id]) => id)}::uuid[], ${held.map(([, lease]) => lease.userUid)}::uuid[],
                      ${held.map(([, lease]) => lease.slot)}::int[]) AS held (id, user_uid, slot)
          WHERE id NOT IN (SELECT id FROM extended)
          ON CONFLICT DO NOTHING`.execute(this.db);
      }
      await this.db.deleteFrom("watch_stream_leases").where("expires_at", "<=", sql<string>`now()`).execute();
    } catch (error) {
      this.logger.warn({ err: error }, "could not renew the watch streams' leases; will try again");
    }
  }
}

/** Claims of a free slot one take may lose to concurrent takes before it refuses. */
const TAKE_ATTEMPTS = 8;

/**
 * Callers that ask for the same key while an answer is on its way share it:
 * one call of `run` per key at a time, forgotten once it settles.
 */
export function singleFlight<V>(): (key: string, run: () => Promise<V>) => Promise<V> {
  const inFlight = new Map<string, Promise<V>>();
  return (key, run) => {
    let answer = inFlight.get(key);
    if (!answer) {
      answer = run().finally(() => inFlight.delete(key));
      inFlight.set(key, answer);
    }
    return answer;
  };
}

/** The WatchIssues streams of one server: they share their event reads and access checks. */
export class IssueWatches {
  /**
   * The watchers of a project wake together on a commit and ask for the
   * same events: one query (and one conversion) answers all of them, not one
   * per stream.
   */
  readonly #eventsAfter = singleFlight<WatchBatch>();
  /**
   * A watcher whose project's access changed asks again, exactly as a new
   * call does; the streams of one caller share the question.
   */
  readonly #accessChecks = singleFlight<number>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly bus: IssueEventBus,
  ) {}

  #sharedEventsAfter(project: { uid: string; key: string }, position: string) {
    return this.#eventsAfter(`${project.uid}/${position}`, async () => {
      const { accessRevision, events, more } = await eventsAfter(this.db, project.uid, position, WATCH_BATCH);
      return {
        accessRevision,
        more,
        events: events.map((row) => ({ sequence: row.sequence, event: toIssueEvent(row, project.key) })),
      };
    });
  }

  /** Resolves with the access revision the answer holds for, or throws what a new call gets. */
  #sharedAccessCheck(caller: Caller, parent: string, revision: number) {
    return this.#accessChecks(`${caller.userUid} ${parent} ${revision}`, async () => {
      const access = await projectFor(this.db, caller, parent, "reader");
      return access.access_revision;
    });
  }

  /**
   * Replays the project's events after `after` (from now on when unset), then
   * follows new ones until `stop` aborts. The position is read before the
   * stream waits, and the bus's version before each read, so nothing
   * committed in between is missed.
   *
   * The stream ends as a new call would fail once the caller's access ends:
   * a read of events carries the project's access revision from the same
   * snapshot, and when it moved by a change that may concern the caller,
   * access is checked again before anything read is delivered. The bus wakes
   * the caller's streams when such a change commits, so they end at once
   * even when no event follows.
   */
  async *follow(
    caller: Caller,
    parent: string,
    project: ProjectAccess,
    after: bigint | undefined,
    stop: AbortSignal,
  ): AsyncGenerator<WatchUpdate> {
    const { bus } = this;
    const watcher = {
      userUid: caller.userUid,
      seen: bus.version(project.uid),
      accessChecked: project.access_revision,
    };
    const checkAccess = async (revision: number) => {
      if (revision <= watcher.accessChecked) return;
      if (bus.mayConcern(project.uid, caller.userUid, watcher.accessChecked, revision)) {
        revision = Math.max(revision, await this.#sharedAccessCheck(caller, parent, revision));
      }
      watcher.accessChecked = revision;
    };
    const accessChangeHeard = () =>
      bus.mayConcern(project.uid, caller.userUid, watcher.accessChecked, bus.accessRevision(project.uid));
    // "From now on" is read after the version, so an event committed in
    // between is either before the position or wakes the first wait.
    const newest = (await findProject(this.db, project.key)).last_event_sequence;
    // A position this project never reached (a database restored from a
    // backup, a position of another project) would wait for events that
    // never come: refused, so the client starts over knowingly.
    if (after !== undefined && after > BigInt(newest)) {
      throw new DomainError(
        "out_of_range",
        "POSITION_AHEAD_OF_PROJECT",
        `after ${after} is past ${parent}'s newest event, ${newest}: resume from ${newest} or less, or leave it unset`,
        { newest },
        [{ field: "after", description: `must be at most ${newest}, the project's newest event` }],
      );
    }
    let position = after === undefined ? newest : after.toString();
    yield { position: BigInt(position) };
    reading: while (!stop.aborted) {
      const { accessRevision, events, more } = await this.#sharedEventsAfter(project, position);
      await checkAccess(accessRevision);
      // Shared as read; this caller's own copy only of an event naming an issue they cannot read.
      const seen = await eventsAsSeenBy(
        this.db,
        caller.userUid,
        events.map(({ event }) => event),
      );
      for (const [index, { sequence }] of events.entries()) {
        // A change heard of meanwhile (say, while a slow client took the
        // batch) is checked before the rest is delivered.
        if (stop.aborted || accessChangeHeard()) continue reading;
        position = sequence;
        yield { event: seen[index], position: BigInt(position) };
      }
      if (more) continue;
      const changed = await bus.waitForChange(project.uid, watcher, WATCH_HEARTBEAT_MS, stop);
      watcher.seen = bus.version(project.uid);
      if (!changed && !stop.aborted) yield { position: BigInt(position) };
    }
  }
}
