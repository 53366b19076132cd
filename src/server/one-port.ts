import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { TransportLimits } from "../context.js";

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

/** What bounds each connection, whoever sends on it (README, "Limits"). */
/**
 * Serves HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge) on one port.
 * Node's `http2.createServer({ allowHTTP1 })` only falls back to 1.1 over TLS,
 * so each connection's first bytes decide: the HTTP/2 preface goes to the
 * http2 server, anything else to the http server. Both run the same handler.
 */
export function createOnePortServer(handler: Handler, limits: TransportLimits): OnePortServer {
  // HTTP/1.1 has no GOAWAY: while draining, each response is its
  // connection's last (Connection: close), and connections between requests
  // are closed, so keep-alive clients go elsewhere instead of sending more
  // requests until the drain times out and cuts them mid-request. (Node's
  // http server has no such drain: its close() only drops idle connections.)
  let closing = false;
  const responses = new Set<http.ServerResponse>();
  /** HTTP/1.1 connections and how many responses each has in progress. */
  const h1Sockets = new Map<net.Socket, number>();
  const endIfIdle = (socket: net.Socket) => {
    if (h1Sockets.get(socket) === 0) socket.end();
  };
  const serveH1 = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    if (closing) res.shouldKeepAlive = false;
    responses.add(res);
    h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
    res.once("close", () => {
      responses.delete(res);
      if (h1Sockets.has(socket)) h1Sockets.set(socket, (h1Sockets.get(socket) ?? 1) - 1);
      if (closing) setImmediate(() => endIfIdle(socket));
    });
    // Node resets this to the keep-alive timeout after each response.
    socket.setTimeout(limits.streamIdleTimeoutMs);
    closeIfAnsweredEarly(req, res);
    handler(req, res);
  };
  const h1 = http.createServer(
    {
      // Node answers 408 and closes a connection whose headers, or whole
      // request, are late; streams' responses are not bounded by it.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often those two deadlines are checked (Node's default: 30 s).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.headersTimeoutMs / 4)),
    },
    serveH1,
  );
  // `Expect: 100-continue`: Node would send 100 Continue before the handler
  // runs, inviting the body of a request about to be refused. With this
  // listener it does not; the handler writes it once the request may proceed.
  h1.on("checkContinue", serveH1);
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams } }, handler);
  const sockets = new Set<net.Socket>();
  /** Each HTTP/2 session, and how to send it away (GOAWAY). */
  const sessions = new Map<http2.ServerHttp2Session, () => void>();
  const serveSession = (session: http2.ServerHttp2Session, socket: net.Socket) => {
    // Whenever no stream is open: GOAWAY after the keep-alive timeout,
    // whatever else the client sends (PINGs, a frame a byte at a time).
    // After GOAWAY, the socket itself goes: Node's graceful close otherwise
    // waits, forever if need be, for the client to close its side.
    let open = 0;
    let timer: NodeJS.Timeout | undefined;
    const whenIdle = () => {
      clearTimeout(timer);
      timer = session.closed
        ? setTimeout(() => socket.destroy(), limits.headersTimeoutMs)
        : setTimeout(goAway, limits.keepAliveTimeoutMs);
    };
    const goAway = () => {
      session.close();
      if (open === 0) whenIdle();
    };
    whenIdle();
    session.on("stream", (stream) => {
      open += 1;
      clearTimeout(timer);
      const reset = () => stream.close(http2.constants.NGHTTP2_CANCEL);
      stream.setTimeout(limits.streamIdleTimeoutMs, reset);
      // The request, body and all, arrives in time (END_STREAM), even after
      // a GOAWAY; a long response (a watch) is not bounded by it.
      const late = stream.endAfterHeaders ? undefined : setTimeout(reset, limits.requestTimeoutMs);
      stream.once("end", () => clearTimeout(late));
      stream.once("close", () => {
        clearTimeout(late);
        open -= 1;
        if (open === 0) whenIdle();
      });
    });
    sessions.set(session, goAway);
    socket.once("close", () => {
      clearTimeout(timer);
      sessions.delete(session);
    });
  };

  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // A client that never sends its first bytes, or drips them, must not
    // hold the socket: a deadline, not an idle timeout.
    const tooSlow = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    socket.once("close", () => clearTimeout(tooSlow));
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const prefix = received.subarray(0, H2_PREFACE.length);
      if (prefix.length < H2_PREFACE.length && H2_PREFACE.subarray(0, prefix.length).equals(prefix)) return;
      clearTimeout(tooSlow);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(received);
      if (H2_PREFACE.equals(prefix)) {
        // The http2 session reads the socket's buffered bytes itself; the
        // server creates it, and says so, within emit().
        h2.once("session", (session) => serveSession(session, socket));
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
          // The http server checks its header and request deadlines only
          // for connections it tracks, and starts tracking on 'listening':
          // it never listens itself, so it is told here (else no HTTP/1.1
          // deadline ever fires on the sockets handed to it).
          h1.emit("listening");
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
      for (const goAway of sessions.values()) goAway();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, timeoutMs);
      await closed;
      clearTimeout(timer);
      // Only now: the http server's close() destroys whatever it deems idle.
      h1.close();
    },
  };
}

/**
 * HTTP/1.1: a response sent before its request's body was read (an
 * unauthenticated request, one over the size limit) is the connection's
 * last. Otherwise the server would read the rest of the body, however long,
 * to find the next request; the client learns from `Connection: close` that
 * it may stop sending.
 */
function closeIfAnsweredEarly(req: http.IncomingMessage, res: http.ServerResponse) {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
  const hasBody =
    req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
  res.writeHead = ((...args: unknown[]) => {
    // Not read to its end (whether or not it all arrived): the connection cannot be reused.
    if (hasBody && !req.readableEnded) {
      res.setHeader("Connection", "close");
      lingerOnClose(req.socket);
    }
    return writeHead(...args);
  }) as http.ServerResponse["writeHead"];
}

/**
 * How long, and how much of the body, a connection answered early still reads
 * after its answer. Mostly time, as nginx's lingering close: clients that
 * write their whole body before they read (Node's fetch does) lose the
 * answer to a reset when the reading stops first, and an outside test saw
 * that for 4 of 10 bodies of 10 MiB under a 1 MiB bound. The bytes bound
 * only stops a client sending at loopback speed from keeping a core busy.
 */
const LINGER_MS = 2_000;
export const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * A socket closed with unread bytes makes the kernel reset the connection:
 * the answer still queued is dropped, and a client still sending (curl)
 * fails on its next write before it reads the answer. So Node's close after
 * the last response (destroySoon()) becomes a lingering one, as Apache's and
 * nginx's: FIN once the answer is out, then read and drop what the client
 * still sends until it closes its side, for at most LINGER_MS and
 * LINGER_BYTES; then the socket goes (a client that sends on past those gets
 * the reset, by then long after the answer).
 */
function lingerOnClose(socket: net.Socket) {
  socket.destroySoon = () => {
    const destroy = () => socket.destroy();
    const timer = setTimeout(destroy, LINGER_MS);
    socket.once("close", () => clearTimeout(timer));
    let discarded = 0;
    socket.on("data", (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) destroy();
    });
    socket.once("end", destroy);
    socket.end();
    socket.resume();
  };
}
