import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssueEvent_Kind as Kind, type WatchIssuesResponse } from "../gen/proto/tracker/v1/issue_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { addMember, clientsFor, createProject } from "./support/fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { PROTOCOLS, type Protocol } from "./support/transports.js";

let server: TestServer;

/** A project alice administers, which "watcher" may read. */
async function watchedProject(target: TestServer): Promise<string> {
  const project = await createProject(target);
  await addMember(target, project, "watcher", "reader");
  return project;
}
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/**
 * Reads a watch stream in the background, collecting what it delivers, until
 * `stop()`; `until(n)` waits for n events.
 */
function watch(
  target: TestServer,
  parent: string,
  after?: bigint,
  protocol: Protocol = "Connect binary over HTTP/2",
) {
  const abort = new AbortController();
  const messages: WatchIssuesResponse[] = [];
  const waiters: Array<() => void> = [];
  const events = () => messages.filter((message) => message.event !== undefined);
  const done = (async () => {
    try {
      for await (const message of clientsFor(target, "watcher", protocol).issues.watchIssues(
        { parent, after },
        { signal: abort.signal },
      )) {
        messages.push(message);
        for (const wake of waiters.splice(0)) wake();
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return {
    messages,
    events,
    async until(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events().length < count) {
        if (Date.now() > deadline) throw new Error(`got ${events().length} of ${count} events`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return events();
    },
    async stop() {
      abort.abort();
      await done;
    },
    done,
  };
}

describe.each(PROTOCOLS)("WatchIssues over %s", (protocol) => {
  it("replays history after `after`, then delivers new events live", async () => {
    const parent = await watchedProject(server);
    const { issues } = clientsFor(server);
    const first = await issues.createIssue({ parent, issue: { title: "before" } });
    const stream = watch(server, parent, 0n, protocol);
    await stream.until(1);
    await issues.updateIssue({
      issue: { name: first.name, title: "after" },
      updateMask: create(FieldMaskSchema, { paths: ["title"] }),
    });
    const events = await stream.until(2);
    await stream.stop();
    expect(events.map((message) => [message.position, message.event?.kind])).toEqual([
      [1n, Kind.ISSUE_CREATED],
      [2n, Kind.ISSUE_UPDATED],
    ]);
    expect(stream.messages[0]?.position).toBe(0n);
    expect(stream.messages[0]?.event).toBeUndefined();
  });

  it("refuses a position past the project's newest event with OUT_OF_RANGE, naming `after`", async () => {
    const parent = await watchedProject(server);
    await clientsFor(server).issues.createIssue({ parent, issue: { title: "the newest, at 1" } });
    const stream = watch(server, parent, 2n, protocol);
    const error = await expectError(stream.done, Code.OutOfRange, "POSITION_AHEAD_OF_PROJECT");
    expect(violatedFields(error)).toEqual(["after"]);
    expect(stream.messages).toEqual([]);
    // The newest position itself is where a caught-up client resumes.
    const caughtUp = watch(server, parent, 1n, protocol);
    await clientsFor(server).issues.createIssue({ parent, issue: { title: "next" } });
    expect((await caughtUp.until(1)).map((message) => message.position)).toEqual([2n]);
    await caughtUp.stop();
  });
});

describe("WatchIssues", () => {
  it("starts at the present when `after` is unset", async () => {
    const parent = await watchedProject(server);
    const { issues } = clientsFor(server);
    await issues.createIssue({ parent, issue: { title: "old news" } });
    const stream = watch(server, parent);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stream.messages[0]?.position).toBe(1n);
    await issues.createIssue({ parent, issue: { title: "fresh" } });
    const events = await stream.until(1);
    await stream.stop();
    expect(events.map((message) => message.position)).toEqual([2n]);
  });

  it("delivers every event of 8 concurrent writers exactly once, in order, across a reconnect", async () => {
    const parent = await watchedProject(server);
    const writers = Array.from(
      { length: 8 },
      (_, i) => clientsFor(server, `writer${i}`, "gRPC over HTTP/2").issues,
    );
    for (let i = 0; i < writers.length; i++) await addMember(server, parent, `writer${i}`, "writer");
    const perWriter = 12;
    const total = writers.length * perWriter;
    let stream = watch(server, parent, 0n);
    const writing = Promise.all(
      writers.map(async (client, w) => {
        for (let i = 0; i < perWriter; i++)
          await client.createIssue({ parent, issue: { title: `w${w} #${i}` } });
      }),
    );
    // Disconnect midway and resume from the last position seen.
    const beforeReconnect = await stream.until(total / 3);
    await stream.stop();
    const seen = [...beforeReconnect.map((message) => message.position)];
    const resumeAt = seen[seen.length - 1];
    stream = watch(server, parent, resumeAt);
    await writing;
    const afterReconnect = await stream.until(total - seen.length);
    await stream.stop();
    const positions = [...seen, ...afterReconnect.map((message) => message.position)];
    expect(positions).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
  });

  it("delivers events written through another server process on the same database", async () => {
    const other = await startTestServer({ sharedWith: server });
    try {
      const parent = await watchedProject(server);
      const stream = watch(other, parent, 0n);
      const { issues } = clientsFor(server);
      await issues.createIssue({ parent, issue: { title: "from process A" } });
      await issues.createIssue({ parent, issue: { title: "also from A" } });
      const events = await stream.until(2);
      await stream.stop();
      expect(events.map((message) => message.event?.issue)).toEqual([
        `${parent}/issues/1`,
        `${parent}/issues/2`,
      ]);
    } finally {
      await other.close();
    }
  });

  it("ends the stream cleanly when the server shuts down", async () => {
    const doomed = await startTestServer();
    const parent = await watchedProject(doomed);
    const stream = watch(doomed, parent, 0n);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await doomed.close();
    await expect(stream.done).resolves.toBeUndefined();
  });
});
