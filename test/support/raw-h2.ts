import net from "node:net";

// A raw HTTP/2 connection (h2c, prior knowledge) that sends exactly the
// frames it is told to, as an attacker's client would: unlike node:http2 it
// ignores the server's limits (SETTINGS_MAX_CONCURRENT_STREAMS, flow
// control) and never closes its side of the connection unless told to. It
// acknowledges the server's SETTINGS and nothing else.

export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
};
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 };
export const ERROR_CODE = { NO_ERROR: 0, PROTOCOL_ERROR: 1, REFUSED_STREAM: 7, CANCEL: 8 };

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawH2 {
  /** Every frame the server sent so far, in order. */
  frames: Frame[];
  /** The first frame, received so far or later, that matches. */
  next(match: (frame: Frame) => boolean): Promise<Frame>;
  /** Opens a stream with a POST to `path` (HEADERS, END_STREAM only if `endStream`). */
  request(
    streamId: number,
    path: string,
    options?: { headers?: Record<string, string>; endStream?: boolean },
  ): void;
  send(type: number, flags: number, streamId: number, payload?: Buffer): void;
  /** Sends a PING and waits for its ACK: the server has read every frame sent before. */
  roundTrip(): Promise<void>;
  /** Resolves when the connection is gone: the server destroyed it (a FIN alone is not enough). */
  closed: Promise<void>;
  socket: net.Socket;
}

/** The error code of a RST_STREAM or GOAWAY frame. */
export const errorCodeOf = (frame: Frame) => frame.payload.readUInt32BE(frame.type === FRAME.GOAWAY ? 4 : 0);

export async function connectRawH2(port: number): Promise<RawH2> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const frames: Frame[] = [];
  const waiting: Array<{ match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }> = [];
  const send = (type: number, flags: number, streamId: number, payload = Buffer.alloc(0)) => {
    const header = Buffer.alloc(9);
    header.writeUIntBE(payload.length, 0, 3);
    header.writeUInt8(type, 3);
    header.writeUInt8(flags, 4);
    header.writeUInt32BE(streamId, 5);
    if (!socket.destroyed) socket.write(Buffer.concat([header, payload]));
  };
  let buffered = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const frame: Frame = {
        type: buffered.readUInt8(3),
        flags: buffered.readUInt8(4),
        streamId: buffered.readUInt32BE(5) & 0x7fffffff,
        payload: buffered.subarray(9, 9 + length),
      };
      buffered = buffered.subarray(9 + length);
      if (frame.type === FRAME.SETTINGS && !(frame.flags & FLAG.ACK)) send(FRAME.SETTINGS, FLAG.ACK, 0);
      frames.push(frame);
      for (const waiter of waiting.filter((w) => w.match(frame))) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  // After the server's FIN, knock: only a server that has let go of the
  // socket answers (with a reset), one that lingers reads on in silence.
  socket.once("end", () => {
    const knock = setInterval(() => send(FRAME.PING, 0, 0, Buffer.alloc(8)), 100);
    socket.once("close", () => clearInterval(knock));
  });
  const next = (match: (frame: Frame) => boolean) =>
    new Promise<Frame>((resolve) => {
      const seen = frames.find(match);
      if (seen) resolve(seen);
      else waiting.push({ match, resolve });
    });
  socket.write(PREFACE);
  send(FRAME.SETTINGS, 0, 0);
  await next((frame) => frame.type === FRAME.SETTINGS && !(frame.flags & FLAG.ACK));
  let pings = 0;
  return {
    frames,
    next,
    send,
    socket,
    closed,
    request(streamId, path, { headers = {}, endStream = false } = {}) {
      const all = {
        ":method": "POST",
        ":scheme": "http",
        ":path": path,
        ":authority": "127.0.0.1",
        ...headers,
      };
      // HPACK "literal header field without indexing, new name", no Huffman: lengths below 127.
      const block = Buffer.concat(
        Object.entries(all).flatMap(([name, value]) => [
          Buffer.from([0, name.length]),
          Buffer.from(name),
          Buffer.from([value.length]),
          Buffer.from(value),
        ]),
      );
      send(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), streamId, block);
    },
    async roundTrip() {
      const data = Buffer.alloc(8);
      data.writeUInt32BE(++pings, 4);
      send(FRAME.PING, 0, 0, data);
      await next(
        (frame) => frame.type === FRAME.PING && !!(frame.flags & FLAG.ACK) && frame.payload.equals(data),
      );
    },
  };
}
