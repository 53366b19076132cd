import { type Client, ConnectError } from "@connectrpc/connect";
import type { IssueService, WatchIssuesResponse } from "../../gen/proto/tracker/v1/issue_pb.js";

/** A WatchIssues stream read in the background, for tests of how and when it ends. */
export interface WatchStream {
  messages: WatchIssuesResponse[];
  /** Titles of the issues created on the stream, in order. */
  titles: string[];
  /** Resolves once the first message arrived, or the stream ended. */
  opened: Promise<void>;
  /** Resolves when the stream ends: undefined for OK, else its error. */
  ended: Promise<ConnectError | undefined>;
  /** Resolves once `reached()` holds; throws `failure()` if the stream ends first. */
  waitFor(reached: () => boolean, failure: () => string): Promise<void>;
  /** Ends the stream from the client's side and waits for it to end. */
  stop(): Promise<void>;
}

/** Reads `parent`'s WatchIssues stream from the start of its history, as the client's caller. */
export function readWatchIssues(issues: Client<typeof IssueService>, parent: string): WatchStream {
  const abort = new AbortController();
  const messages: WatchIssuesResponse[] = [];
  const titles: string[] = [];
  const waiters: Array<() => void> = [];
  const wakeAll = () => {
    for (const wake of waiters.splice(0)) wake();
  };
  let markOpened: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    markOpened = resolve;
  });
  let done = false;
  const ended = (async () => {
    try {
      for await (const message of issues.watchIssues({ parent, after: 0n }, { signal: abort.signal })) {
        markOpened();
        messages.push(message);
        const title = message.event?.changes.find((change) => change.field === "title")?.newValue;
        if (title?.kind.case === "stringValue") titles.push(title.kind.value);
        wakeAll();
      }
      return undefined;
    } catch (error) {
      return ConnectError.from(error);
    } finally {
      done = true;
      markOpened();
      wakeAll();
    }
  })();
  return {
    messages,
    titles,
    opened,
    ended,
    async waitFor(reached, failure) {
      while (!reached()) {
        if (done) throw new Error(failure());
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    async stop() {
      abort.abort();
      await ended;
    },
  };
}
