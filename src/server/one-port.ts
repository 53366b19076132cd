import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface OnePortServer {
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /**
   * Stops accepting connections, lets requests in flight finish for up to
   * `timeoutMs`, then destroys whatever is left.
   */
  close(timeoutMs: number): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface ServerLimits {
  /** Longest a client may take to send its request headers. */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

/**
 * Serves HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge) on one port.
 * Node's `http2.createServer({ allowHTTP1 })` only falls back to 1.1 over TLS,
 * so each connection's first bytes decide: the HTTP/2 preface goes to the
 * http2 server, anything else to the http server. Both run the same handler.
 */
export function createOnePortServer(handler: Handler, limits: ServerLimits): OnePortServer {
  // HTTP/1.1 has no GOAWAY: while draining, each response is its
  // connection's last (Connection: close), and connections between requests
  // are closed, so keep-alive clients go elsewhere instead of sending more
  // requests until the drain times out and cuts them mid-request. (The
  // http server cannot do it: it tracks only connections it accepted itself.)
  let closing = false;
  const responses = new Set<http.ServerResponse>();
  /** HTTP/1.1 connections and how many responses each has in progress. */
  const h1Sockets = new Map<net.Socket, number>();
  const endIfIdle = (socket: net.Socket) => {
    if (h1Sockets.get(socket) === 0) socket.end();
  };
  const h1 = http.createServer((req, res) => {
    const socket = req.socket;
    if (closing) res.shouldKeepAlive = false;
    responses.add(res);
    h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
    res.once("close", () => {
      responses.delete(res);
      if (h1Sockets.has(socket)) h1Sockets.set(socket, (h1Sockets.get(socket) ?? 1) - 1);
      if (closing) setImmediate(() => endIfIdle(socket));
    });
    handler(req, res);
  });
  h1.headersTimeout = limits.headersTimeoutMs;
  h1.requestTimeout = 0; // streams may be long-lived; deadlines are per RPC
  h1.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    // Idle sessions go away gracefully (GOAWAY); watch heartbeats keep busy ones alive.
    session.setTimeout(limits.keepAliveTimeoutMs, () => session.close());
    session.once("close", () => sessions.delete(session));
  });

  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // Slow clients that never send a preface must not hold sockets forever.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const prefix = received.subarray(0, H2_PREFACE.length);
      if (prefix.length < H2_PREFACE.length && H2_PREFACE.subarray(0, prefix.length).equals(prefix)) return;
      socket.off("data", onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(received);
      if (H2_PREFACE.equals(prefix)) {
        // The http2 session reads the socket's buffered bytes itself.
        h2.emit("connection", socket);
      } else {
        h1Sockets.set(socket, 0);
        socket.once("close", () => h1Sockets.delete(socket));
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          resolve(tcp.address() as net.AddressInfo);
        });
      });
    },
    async close(timeoutMs) {
      closing = true;
      for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
      for (const socket of h1Sockets.keys()) endIfIdle(socket);
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      // HTTP/2: GOAWAY lets streams in flight finish. HTTP/1.1: idle
      // keep-alive sockets closed above, busy ones close after their response.
      for (const session of sessions) session.close();
      h1.close();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, timeoutMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
