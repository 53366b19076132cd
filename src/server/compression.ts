import { promisify } from "node:util";
import zlib from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

/**
 * Brotli's quality for responses. Node's default, 11, is for files
 * compressed once: it took 31 ms of CPU for a 25 KB page of issues here,
 * against 0.3 ms at 4 (and 0.4 ms for gzip), for 7% fewer bytes. A client
 * that only accepts `br` would otherwise make every answer cost about a
 * hundred times its work.
 */
export const BROTLI_RESPONSE_QUALITY = 4;

/**
 * gzip's level for responses. A 35 KB JSON page of 50 issues took 89 µs of
 * CPU at 3 and 190 µs at zlib's default, 6, for 7% more bytes (6.5 KB
 * against 6.0 KB); levels 1–3 are zlib's fast strategy, 3 its tightest.
 */
export const GZIP_RESPONSE_LEVEL = 3;

/**
 * Responses up to this size are compressed on the event loop, in one call.
 * zlib's asynchronous one-shot call, connect-node's, took 445 µs of CPU for
 * a 24 KB page of issues where the synchronous one took 174 µs for the same
 * bytes: the rest is the stream and the thread-pool hand-off around the
 * work, about a tenth of a ListIssues call's CPU (bench profile). A larger
 * response (a page may reach 3 MiB, about 10 ms to compress) goes to the
 * thread pool as before, so it never holds every other call up for long.
 */
export const COMPRESS_ON_EVENT_LOOP_MAX_BYTES = 64 * 1024;

const gzip = promisify(zlib.gzip);
const brotliCompress = promisify(zlib.brotliCompress);

/** `compress`'s bytes, in the event loop when small, else in the thread pool; the same bytes either way. */
function compressor(
  sync: (bytes: Uint8Array) => Buffer,
  async: (bytes: Uint8Array) => Promise<Buffer>,
): Compression["compress"] {
  return async (bytes) => {
    const compressed =
      bytes.byteLength <= COMPRESS_ON_EVENT_LOOP_MAX_BYTES ? sync(bytes) : await async(bytes);
    // zlib's output is never shared memory, as connect's type asks.
    return new Uint8Array(compressed.buffer as ArrayBuffer, compressed.byteOffset, compressed.byteLength);
  };
}

/**
 * connect-node's `decompress`, but a body that is not valid compressed data
 * (truncated, say: zlib's Z_BUF_ERROR, which connect-node reports as
 * INTERNAL) is the client's error, INVALID_ARGUMENT; a body too large once
 * decompressed stays RESOURCE_EXHAUSTED.
 */
function decompressor(decompress: Compression["decompress"]): Compression["decompress"] {
  return (bytes, readMaxBytes) =>
    decompress(bytes, readMaxBytes).catch((error: unknown) => {
      const failed = ConnectError.from(error);
      if (failed.code !== Code.Internal) throw failed;
      throw new ConnectError(
        `request body is not valid compressed data: ${failed.rawMessage}`,
        Code.InvalidArgument,
      );
    });
}

const gzipOptions: zlib.ZlibOptions = { level: GZIP_RESPONSE_LEVEL };
const brotliOptions: zlib.BrotliOptions = {
  params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_RESPONSE_QUALITY },
};

/** connect-node's `base`, but compressing responses with `sync`/`async` and reading bad bodies as above. */
const forResponses = (
  base: Compression,
  sync: (bytes: Uint8Array) => Buffer,
  async: (bytes: Uint8Array) => Promise<Buffer>,
): Compression => ({
  name: base.name,
  compress: compressor(sync, async),
  decompress: decompressor(base.decompress),
});

const gzipForResponses = forResponses(
  compressionGzip,
  (bytes) => zlib.gzipSync(bytes, gzipOptions),
  (bytes) => gzip(bytes, gzipOptions),
);
const brotliForResponses = forResponses(
  compressionBrotli,
  (bytes) => zlib.brotliCompressSync(bytes, brotliOptions),
  (bytes) => brotliCompress(bytes, brotliOptions),
);

/** What the server accepts and answers with, in connect-node's order of preference. */
export const ACCEPT_COMPRESSION: Compression[] = [gzipForResponses, brotliForResponses];
