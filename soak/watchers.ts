import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { IssueEvent_Kind, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import type { DeliveredEvent } from "./check.js";
import type { Protocol } from "./clients.js";
import { sleep } from "./server-process.js";
import { codeOf, originOf } from "./stats.js";

/**
 * A WatchIssues client of one project from the start of its history. When
 * its stream ends (server shutdown, killed server, database outage, or the
 * soak cutting it off on purpose) it reconnects with `after` = the last
 * position it got, so it must end up with every event exactly once, in order.
 */
export class Watcher {
  readonly delivered: DeliveredEvent[] = [];
  position = 0n;
  /** Streams opened (1 + resumes). */
  streams = 0;
  /** Disconnections the soak made on purpose. */
  disconnects = 0;
  /** How streams ended, other than by a disconnection on purpose: "OK", "UNAVAILABLE (transport)", ... */
  readonly endings = new Map<string, number>();
  /** Ends without a server answer, with when: expected only while the server restarts. */
  readonly transportEndings: Array<{ at: number; code: string; message: string }> = [];
  /** Streams the server ended with INTERNAL, UNKNOWN or DATA_LOSS. */
  readonly serverInternal: Array<{ at: number; code: string; message: string }> = [];
  /** Positions that went backwards or events whose sequence was not their position. */
  readonly anomalies: string[] = [];
  readonly #client: Client<typeof IssueService>;
  readonly #stop = new AbortController();
  #current: AbortController | undefined;
  #done: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly protocol: Protocol,
    readonly parent: string,
    transport: Transport,
    private readonly clock: () => number,
  ) {
    this.#client = createClient(IssueService, transport);
  }

  start(): void {
    this.#done = this.#loop();
  }

  async #loop() {
    let delay = 100;
    while (!this.#stop.signal.aborted) {
      const current = new AbortController();
      this.#current = current;
      this.streams += 1;
      let ending = "OK";
      try {
        const signal = AbortSignal.any([current.signal, this.#stop.signal]);
        for await (const message of this.#client.watchIssues(
          { parent: this.parent, after: this.position },
          { signal },
        )) {
          if (message.position < this.position) {
            this.anomalies.push(`position went back from ${this.position} to ${message.position}`);
          }
          if (message.event) {
            if (message.event.sequence !== message.position) {
              this.anomalies.push(`event ${message.event.sequence} came with position ${message.position}`);
            }
            this.delivered.push({
              sequence: Number(message.position),
              kind: IssueEvent_Kind[message.event.kind].toLowerCase(),
              issue: message.event.issue,
              comment: message.event.comment,
            });
          }
          this.position = message.position;
          delay = 100;
        }
      } catch (thrown) {
        if (this.#stop.signal.aborted) break;
        if (current.signal.aborted) ending = "disconnected on purpose";
        else {
          const error = ConnectError.from(thrown);
          const origin = originOf(error);
          ending = `${codeOf(error.code)} (${origin})`;
          const event = { at: this.clock(), code: codeOf(error.code), message: error.message.slice(0, 300) };
          if (origin === "transport") this.transportEndings.push(event);
          else if ([Code.Internal, Code.Unknown, Code.DataLoss].includes(error.code))
            this.serverInternal.push(event);
        }
      }
      if (ending !== "disconnected on purpose") this.endings.set(ending, (this.endings.get(ending) ?? 0) + 1);
      if (this.#stop.signal.aborted) break;
      // After a disconnection on purpose, stay away a moment: events pile up to be replayed.
      await sleep(
        ending === "disconnected on purpose" ? 500 + Math.random() * 1_500 : delay,
        this.#stop.signal,
      );
      delay = Math.min(delay * 2, 2_000);
    }
  }

  /** Cuts the current stream, as a client losing its network would; it resumes by itself. */
  disconnect(): void {
    this.disconnects += 1;
    this.#current?.abort();
  }

  /** Waits until the watcher has seen `sequence` (true) or `timeoutMs` passed (false). */
  async caughtUp(sequence: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Number(this.position) < sequence) {
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}
