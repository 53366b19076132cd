import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type pg from "pg";
import type { Logger } from "pino";
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RetryInfoSchema } from "../../gen/proto/google/rpc/error_details_pb.js";
import { answeredWithin } from "./answered-within.js";
import { apiError } from "./errors.js";
import { principalKey } from "./request-context.js";

export interface RateLimits {
  /** Requests a user may make per second, on average (the bucket's refill)... */
  ratePerSecond: number;
  /** ...and beyond that at once (the bucket holds ratePerSecond + burst). */
  burst: number;
}

/**
 * At most this many of a bucket's tokens (and at most 1/8 of what it holds)
 * are taken at once: one round trip serves that many calls, and what one
 * process holds unused while the user calls another stays small.
 */
const MAX_BATCH = 32;
/**
 * Tokens taken and not used within this long are dropped, never given to a
 * later call: a batch cannot add to a bucket that has refilled since.
 */
const BATCH_LIFETIME_MS = 1_000;
/** A take the database has not answered in this long is given up, and the call limited in memory. */
const STORE_TIMEOUT_MS = 1_000;
/** After a failed take, calls are limited in memory for this long before the database is asked again. */
const STORE_RETRY_MS = 1_000;
/** Past this many callers held in memory, those with nothing held are forgotten. */
const MAX_LOCAL_KEYS = 10_000;
/** How often each process deletes buckets that have refilled to full (as good as no row). */
const SWEEP_MS = 60_000;

/**
 * Takes up to $2 tokens from $1's bucket (refilled at $3 a second up to $4)
 * in one atomic statement: the row lock orders concurrent takes, from any
 * process or host, and PostgreSQL's clock is the only one, so hosts' clocks
 * need not agree. A take never gets more than the bucket holds: fewer than
 * asked for, or none (then `tokens` says how long until the next one).
 */
const available = `least($4::float8, bucket.tokens + $3::float8 * greatest(0, extract(epoch FROM now() - bucket.refilled_at)::float8))`;
const granted = `least($2::int, floor(${available}))::int`;
const TAKE_SQL = `INSERT INTO rate_limit_buckets AS bucket (key, tokens, refilled_at, last_grant)
VALUES ($1, $4::float8 - least($2::int, $4::float8), now(), least($2::int, $4::float8)::int)
ON CONFLICT (key) DO UPDATE SET
  tokens = ${available} - ${granted},
  last_grant = ${granted},
  refilled_at = greatest(bucket.refilled_at, now())
RETURNING last_grant AS granted, tokens`;

/** One caller's state in this process: tokens taken from the shared bucket and not yet used. */
interface LocalBatch {
  tokens: number;
  usableUntil: number;
  /** Refused until then (the bucket is empty): no round trip to hear it again. */
  refusedUntil: number;
  /** What the bucket held after the last take: batches shrink as it empties. */
  bucketLeft: number;
  /** Calls waiting for the take in flight; the next take asks for them too. */
  waiting: number;
  take?: Promise<void>;
}

/**
 * Per-user rate limiting (OWASP API4), shared by every process and host:
 * a token bucket per caller in PostgreSQL (rate_limit_buckets), which every
 * deployment already runs, so no Redis or other store is needed.
 * rate-limiter-flexible's RateLimiterPostgres names its prepared statements,
 * which PgBouncer in transaction mode cannot carry (DATABASE_POOLER), costs a
 * round trip per call, and times windows by each host's clock; hence the one
 * upsert above.
 *
 * A call does not wait for the database each time: the process takes tokens
 * in small batches and spends them locally, so GetIssue makes one extra round
 * trip per batch, not per call. The database down or slow, calls are limited
 * per process in memory (the limit each process had before) rather than
 * refused or held up: the limiter does not turn an outage into errors of its
 * own.
 */
export class RateLimiter {
  readonly #capacity: number;
  readonly #policy: string;
  readonly #batches = new Map<string, LocalBatch>();
  readonly #fallback: BurstyRateLimiter;
  readonly #sweep: NodeJS.Timeout;
  #storeDownUntil = 0;
  #storeDown = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limits: RateLimits,
    private readonly logger: Logger,
  ) {
    this.#capacity = limits.ratePerSecond + limits.burst;
    // The same for every caller: the bucket's size, and the seconds it takes to fill.
    this.#policy = `"user";q=${this.#capacity};w=${Math.ceil(this.#capacity / limits.ratePerSecond)}`;
    this.#fallback = new BurstyRateLimiter(
      new RateLimiterMemory({ keyPrefix: "rate", points: limits.ratePerSecond, duration: 1 }),
      new RateLimiterMemory({ keyPrefix: "burst", points: limits.burst, duration: 10 }),
    );
    this.#sweep = setInterval(() => void this.#sweepFullBuckets(), SWEEP_MS).unref();
  }

  /** Resolves to undefined when `key` may make one more call now, else to the ms until it may. */
  async take(key: string): Promise<number | undefined> {
    for (;;) {
      const now = Date.now();
      let batch = this.#batches.get(key);
      if (!batch) {
        batch = { tokens: 0, usableUntil: 0, refusedUntil: 0, bucketLeft: this.#capacity, waiting: 0 };
        this.#batches.set(key, batch);
      }
      if (now < batch.refusedUntil) return batch.refusedUntil - now;
      if (batch.tokens > 0 && now < batch.usableUntil) {
        batch.tokens--;
        return undefined;
      }
      if (now < this.#storeDownUntil) return this.#takeInMemory(key);
      batch.take ??= this.#takeBatch(key, batch).finally(() => {
        if (batch) batch.take = undefined;
      });
      batch.waiting++;
      try {
        await batch.take;
      } catch {
        return this.#takeInMemory(key);
      } finally {
        batch.waiting--;
      }
    }
  }

  /**
   * The rate-limit headers for `key` (GitHub's `X-RateLimit-*`, and the IETF
   * draft's `RateLimit` / `RateLimit-Policy`): the bucket's size, what it
   * held after this process's last take plus what this process still holds
   * of it, and the seconds until it is full. Other processes' unspent
   * batches are not known here, so `remaining` may be a few calls high.
   */
  headersFor(key: string): Array<[name: string, value: string]> {
    const batch = this.#batches.get(key);
    const remaining = Math.max(
      0,
      Math.min(this.#capacity, Math.floor((batch?.bucketLeft ?? this.#capacity) + (batch?.tokens ?? 0))),
    );
    const secondsToFull = Math.ceil((this.#capacity - remaining) / this.limits.ratePerSecond);
    return [
      ["x-ratelimit-limit", String(this.#capacity)],
      ["x-ratelimit-remaining", String(remaining)],
      ["x-ratelimit-reset", String(Math.ceil(Date.now() / 1000) + secondsToFull)],
      ["ratelimit-policy", this.#policy],
      ["ratelimit", `"user";r=${remaining};t=${secondsToFull}`],
    ];
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  async #takeBatch(key: string, batch: LocalBatch): Promise<void> {
    if (this.#batches.size > MAX_LOCAL_KEYS) this.#forgetIdle();
    const want = Math.min(
      MAX_BATCH,
      this.#capacity,
      Math.max(1, Math.floor(batch.bucketLeft / 8), batch.waiting),
    );
    let answer: { granted: number; tokens: number } | undefined;
    try {
      answer = (
        await answeredWithin(
          this.pool.query<{ granted: number; tokens: number }>(TAKE_SQL, [
            bucketKey(key),
            want,
            this.limits.ratePerSecond,
            this.#capacity,
          ]),
          STORE_TIMEOUT_MS,
          () => new Error(`no answer within ${STORE_TIMEOUT_MS} ms`),
        )
      ).rows[0];
      if (!answer) throw new Error("the bucket upsert returned no row");
    } catch (error) {
      this.#storeDownUntil = Date.now() + STORE_RETRY_MS;
      if (!this.#storeDown)
        this.logger.warn(
          { err: error },
          "rate limits: the database did not answer; limiting per process meanwhile",
        );
      this.#storeDown = true;
      throw error;
    }
    if (this.#storeDown)
      this.logger.info("rate limits: the database answers again; limits are cluster-wide again");
    this.#storeDown = false;
    const now = Date.now();
    batch.bucketLeft = answer.tokens;
    if (answer.granted > 0) {
      batch.tokens = answer.granted;
      batch.usableUntil = now + BATCH_LIFETIME_MS;
    } else {
      batch.refusedUntil =
        now + Math.max(1, Math.ceil(((1 - answer.tokens) / this.limits.ratePerSecond) * 1000));
    }
  }

  async #takeInMemory(key: string): Promise<number | undefined> {
    try {
      await this.#fallback.consume(key);
      return undefined;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return Math.max(rejection.msBeforeNext, 1);
    }
  }

  #forgetIdle() {
    const now = Date.now();
    for (const [key, batch] of this.#batches) {
      if (!batch.take && now >= batch.refusedUntil && (batch.tokens === 0 || now >= batch.usableUntil))
        this.#batches.delete(key);
    }
  }

  async #sweepFullBuckets() {
    try {
      await this.pool.query(
        "DELETE FROM rate_limit_buckets WHERE refilled_at < now() - make_interval(secs => $1)",
        [this.#capacity / this.limits.ratePerSecond],
      );
    } catch (error) {
      this.logger.debug({ err: error }, "rate limits: could not sweep full buckets; will try again");
    }
  }
}

/**
 * The bucket's row key: the subject itself, or its hash when long, since a
 * B-tree entry has a size limit, and a take failing for one caller would
 * send every caller to the in-memory limiter for a while.
 */
function bucketKey(subject: string): string {
  return subject.length <= 200
    ? subject
    : `sha256:${createHash("sha256").update(subject).digest("base64url")}`;
}

/**
 * Over the limit: RESOURCE_EXHAUSTED with a RetryInfo detail and a
 * Retry-After header saying when to come back.
 */
export function createRateLimitInterceptor(limiter: RateLimiter): Interceptor {
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (!principal) return next(req);
    const retryMs = await limiter.take(principal.subject);
    const headers = limiter.headersFor(principal.subject);
    if (retryMs === undefined) {
      try {
        const res = await next(req);
        for (const [name, value] of headers) res.header.set(name, value);
        return res;
      } catch (error) {
        if (error instanceof ConnectError)
          for (const [name, value] of headers) error.metadata.set(name, value);
        throw error;
      }
    }
    const error = apiError(
      Code.ResourceExhausted,
      "RATE_LIMITED",
      `too many requests; retry in ${retryMs} ms`,
      {
        metadata: { retry_after_ms: String(retryMs) },
      },
    );
    error.details.push({
      desc: RetryInfoSchema,
      value: {
        retryDelay: create(DurationSchema, {
          seconds: BigInt(Math.floor(retryMs / 1000)),
          nanos: (retryMs % 1000) * 1e6,
        }),
      },
    });
    error.metadata.set("retry-after", String(Math.ceil(retryMs / 1000)));
    for (const [name, value] of headers) error.metadata.set(name, value);
    throw error;
  };
}
