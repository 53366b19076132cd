import http from "node:http";
import { describe, expect, it } from "vitest";
import { DEFAULT_TRANSPORT_LIMITS } from "../src/context.js";
import { createOnePortServer } from "../src/server/one-port.js";
import { writeHead } from "../src/server/write-head.js";

// Found by the soak (soak/, RELIABILITY.md): on SIGTERM, HTTP/1.1 keep-alive
// clients kept sending requests on their open connections, so the drain
// always ran to SHUTDOWN_TIMEOUT_MS and then cut whatever was in flight.

describe("closing the one-port server", () => {
  it("finishes requests in flight and closes HTTP/1.1 keep-alive connections, busy or idle, instead of serving on", async () => {
    const server = createOnePortServer((_req, res) => {
      setTimeout(() => {
        writeHead(res, 200);
        res.end("ok");
      }, 50);
    }, DEFAULT_TRANSPORT_LIMITS);
    const { port } = await server.listen(0, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let closing = false;
    let servedAfterClose = 0;
    const failures: string[] = [];
    const get = () =>
      new Promise<void>((resolve) => {
        const sentAfterClose = closing;
        const request = http.get({ port, host: "127.0.0.1", agent }, (res) => {
          res.resume();
          res.on("end", () => {
            if (sentAfterClose) servedAfterClose += 1;
            resolve();
          });
        });
        request.on("error", (error) => {
          // Refused once the listener is closed: the client goes elsewhere. Never cut mid-request.
          if (!sentAfterClose || !/ECONNREFUSED/.test(error.message)) failures.push(error.message);
          resolve();
        });
      });
    let stop = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) await get();
    });
    // And a keep-alive connection that sits idle between two requests.
    const idleAgent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) =>
      http.get({ port, host: "127.0.0.1", agent: idleAgent }, (res) => res.resume().on("end", resolve)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    closing = true;
    await server.close(5_000);
    const took = Date.now() - started;
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    idleAgent.destroy();
    expect(failures).toEqual([]);
    expect(took).toBeLessThan(2_000);
    expect(servedAfterClose).toBe(0);
  });
});
