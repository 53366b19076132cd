import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WatchIssuesRequestSchema, WatchIssuesResponseSchema } from "../gen/proto/tracker/v1/issue_pb.js";

// WatchIssues streams as a thousand separate clients would hold them, from
// one process: raw HTTP/2 streams speaking the Connect streaming protocol,
// each message decoded with fromBinary and nothing more. A client library
// in this process costs per message about what the server does, so 1,000
// streams through it would time the load client, not the server.

const ENVELOPE_HEADER = 5;
const END_STREAM_FLAG = 0b10;

export interface LeanWatchers {
  /** Resolves once every stream has its first message (it is open). */
  opened: Promise<void>;
  close(): void;
}

/**
 * Opens `count` WatchIssues streams on `parent`, `perConnection` to an
 * HTTP/2 connection, and calls `arrived(issueName)` for each event a
 * stream delivers.
 */
export function openLeanWatchers(options: {
  baseUrl: string;
  token: string;
  parent: string;
  count: number;
  perConnection: number;
  arrived: (issue: string) => void;
  failed: (error: Error) => void;
}): LeanWatchers {
  const sessions: http2.ClientHttp2Session[] = [];
  const request = toBinary(
    WatchIssuesRequestSchema,
    create(WatchIssuesRequestSchema, { parent: options.parent }),
  );
  const body = Buffer.alloc(ENVELOPE_HEADER + request.byteLength);
  body.writeUInt32BE(request.byteLength, 1);
  body.set(request, ENVELOPE_HEADER);
  let open = 0;
  let closing = false;
  let markOpened: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    markOpened = resolve;
  });
  for (let i = 0; i < options.count; i++) {
    if (i % options.perConnection === 0) {
      const session = http2.connect(options.baseUrl);
      session.on("error", (error) => closing || options.failed(error));
      sessions.push(session);
    }
    const stream = (sessions.at(-1) as http2.ClientHttp2Session).request({
      ":method": "POST",
      ":path": "/tracker.v1.IssueService/WatchIssues",
      "content-type": "application/connect+proto",
      "connect-protocol-version": "1",
      authorization: `Bearer ${options.token}`,
    });
    stream.end(body);
    let buffered: Buffer = Buffer.alloc(0);
    let first = true;
    stream.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= ENVELOPE_HEADER) {
        const length = buffered.readUInt32BE(1);
        if (buffered.length < ENVELOPE_HEADER + length) break;
        const flags = buffered[0] as number;
        const payload = buffered.subarray(ENVELOPE_HEADER, ENVELOPE_HEADER + length);
        buffered = buffered.subarray(ENVELOPE_HEADER + length);
        if (flags & END_STREAM_FLAG) {
          if (!closing) options.failed(new Error(`stream ended: ${payload.toString()}`));
          continue;
        }
        if (first) {
          first = false;
          if (++open === options.count) markOpened();
        }
        const issue = fromBinary(WatchIssuesResponseSchema, payload).event?.issue;
        if (issue) options.arrived(issue);
      }
    });
    stream.on("error", (error) => closing || options.failed(error));
  }
  return {
    opened,
    close() {
      closing = true;
      for (const session of sessions) session.destroy();
    },
  };
}
