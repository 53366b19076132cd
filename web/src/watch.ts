// A project's live feed: WatchIssues, resumed from the last position after
// any disconnect so no event is lost or seen twice.
import { Code, ConnectError, type IssueEvent, type TrackerClients } from "../../client/index.js";

export type WatchStatus = "connecting" | "live" | "reconnecting" | "stopped";

export interface WatchHandlers {
  /** Each event, in order. */
  onEvent(event: IssueEvent): void;
  /** Every (re)connection: the stream is live from `position` on. */
  onConnected(position: bigint, resumed: boolean): void;
  onStatus(status: WatchStatus, detail?: string): void;
  /** The stream cannot go on (e.g. the token expired). */
  onFatal(error: ConnectError): void;
}

const FATAL = [Code.Unauthenticated, Code.PermissionDenied, Code.NotFound, Code.InvalidArgument];

export function watchProject(
  clients: () => TrackerClients,
  parent: string,
  handlers: WatchHandlers,
): () => void {
  const stop = new AbortController();
  let after: bigint | undefined;
  let delayMs = 500;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stop.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });

  void (async () => {
    handlers.onStatus("connecting");
    while (!stop.signal.aborted) {
      let detail = "the stream ended";
      try {
        let first = true;
        const resumed = after !== undefined;
        for await (const message of clients().issues.watchIssues(
          { parent, after },
          { signal: stop.signal },
        )) {
          if (first) {
            first = false;
            delayMs = 500;
            handlers.onStatus("live");
            handlers.onConnected(message.position, resumed);
          }
          after = message.position;
          if (message.event) handlers.onEvent(message.event);
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        const connectError = ConnectError.from(error);
        if (FATAL.includes(connectError.code)) {
          handlers.onStatus("stopped", connectError.rawMessage);
          handlers.onFatal(connectError);
          return;
        }
        detail = connectError.rawMessage;
      }
      if (stop.signal.aborted) break;
      handlers.onStatus("reconnecting", detail);
      await sleep(delayMs + Math.random() * 250);
      delayMs = Math.min(delayMs * 2, 10_000);
    }
    handlers.onStatus("stopped");
  })();

  return () => stop.abort();
}
