import { createHash } from "node:crypto";
import { type Expression, type RawBuilder, type SqlBool, sql } from "kysely";
import { invalidArgument } from "../errors.js";

// One way to page every List (AIP-158): keyset pagination (never OFFSET), so
// rows inserted meanwhile never make a page repeat or skip a row. The token
// is opaque to clients and bound to the query it came from.

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/**
 * A page also ends once its rows' text passes this many bytes of UTF-8
 * (AIP-158 lets a page hold fewer rows than asked). Well under the 4 MiB a
 * message may be: JSON writes a control character as `\u0001`, six bytes for
 * one, so a page of them is at most 3 MiB; a single row larger than this
 * still comes back, alone (the largest, an event changing a body from 65536
 * such characters to 65536 others, is under 1 MiB even as JSON).
 */
export const PAGE_BYTES = 512 * 1024;

/** 0 means the default; larger than the maximum is clamped (AIP-158). */
export function pageSize(requested: number): number {
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

interface TokenBody<Cursor> {
  /** Fingerprint of the query parameters the token belongs to. */
  q: string;
  /** Sort key of the last row returned. */
  c: Cursor;
}

function fingerprint(query: unknown): string {
  return createHash("sha256").update(JSON.stringify(query)).digest("base64url").slice(0, 16);
}

export function encodePageToken<Cursor>(query: unknown, cursor: Cursor): string {
  const body: TokenBody<Cursor> = { q: fingerprint(query), c: cursor };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/**
 * Returns the cursor in `token`, or undefined for the first page. A token
 * that is malformed or belongs to another query is INVALID_ARGUMENT.
 */
function decodePageToken<Cursor>(
  token: string,
  query: unknown,
  isCursor: (value: unknown) => value is Cursor,
): Cursor | undefined {
  if (token === "") return undefined;
  let body: Partial<TokenBody<unknown>>;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("page_token", "is not a token this API issued", "INVALID_PAGE_TOKEN");
  }
  if (typeof body !== "object" || body === null || typeof body.q !== "string") {
    throw invalidArgument("page_token", "is not a token this API issued", "INVALID_PAGE_TOKEN");
  }
  // The query first: a token of another query (whose cursor may have another
  // shape, e.g. ListIssues of `projects/-`) is told so.
  if (body.q !== fingerprint(query)) {
    throw invalidArgument(
      "page_token",
      "belongs to a request with other parameters; send the same parameters as the first page",
      "PAGE_TOKEN_MISMATCH",
    );
  }
  if (!isCursor(body.c)) {
    throw invalidArgument("page_token", "is not a token this API issued", "INVALID_PAGE_TOKEN");
  }
  return body.c;
}

/**
 * What a List's query adds to its rows (see `pageBytes`) for the page to end
 * by bytes; a List whose rows are all small leaves them out.
 */
export interface RowBytes {
  /** Bytes of this row's text. */
  page_row_bytes: string | number;
  /** Bytes of the rows before it in the query's order. */
  page_bytes_before: string | number;
}

/**
 * The columns of `RowBytes` (and the row's place, for `withinPageBytes`)
 * for a query whose rows come in `order`; `rowBytes` is the size of a row's
 * text, e.g. `octet_length` of its large columns (which reads no TOASTed
 * text). The windows run under the query's LIMIT, so they stop with it.
 */
export function pageBytes(rowBytes: Expression<number> | RawBuilder<number>, order: RawBuilder<unknown>) {
  return [
    sql<string>`${rowBytes}`.as("page_row_bytes"),
    sql<string>`coalesce(sum(${rowBytes}) OVER (ORDER BY ${order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)`.as(
      "page_bytes_before",
    ),
    sql<string>`row_number() OVER (ORDER BY ${order})`.as("page_place"),
  ] as const;
}

/**
 * On a query's rows with `pageBytes` (aliased `table`): the rows the page
 * may hold and the one after them, which tells that another page follows;
 * the others are never sent by PostgreSQL, so the bytes fetched are bounded
 * as well as those answered.
 */
export function withinPageBytes(table: string) {
  return sql<SqlBool>`(${sql.ref(`${table}.page_bytes_before`)} <= ${PAGE_BYTES} OR ${sql.ref(`${table}.page_place`)} <= 2)`;
}

/**
 * Splits the rows a query fetched (`size + 1` at most) into the page and the
 * token for the next one (empty on the last page). The page ends after `size`
 * rows, or before the row that would take it past PAGE_BYTES, but always
 * holds one row, so every page makes progress.
 */
function paginate<Row, Cursor>(
  rows: Row[],
  size: number,
  query: unknown,
  cursorOf: (row: Row) => Cursor,
): { page: Row[]; nextPageToken: string } {
  const { fit: page, more } = fitting(rows, size);
  if (!more) return { page, nextPageToken: "" };
  const last = page[page.length - 1] as Row;
  return { page, nextPageToken: encodePageToken(query, cursorOf(last)) };
}

/**
 * The first of `rows` (fetched with `pageBytes`/`withinPageBytes`) that fit
 * in `size` rows and PAGE_BYTES, always at least one, and whether any were
 * left over: what a page holds, and what a watch stream reads at once.
 */
export function fitting<Row>(rows: Row[], size: number): { fit: Row[]; more: boolean } {
  let end = Math.min(1, rows.length);
  while (end < Math.min(size, rows.length) && bytesThrough(rows[end] as Partial<RowBytes>) <= PAGE_BYTES)
    end += 1;
  return { fit: end === rows.length ? rows : rows.slice(0, end), more: end < rows.length };
}

const bytesThrough = (row: Partial<RowBytes>) =>
  Number(row.page_bytes_before ?? 0) + Number(row.page_row_bytes ?? 0);

/** Most lists sort by two keys (e.g. create time, then a unique id), and page by both. */
export type PairCursor = [string, string];

export const isPairCursor = (value: unknown): value is PairCursor =>
  Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string");

/** `(a, b) > cursor` (or `<` for descending order): the rows after the cursor. */
export function afterPair(a: string, b: string, [first, second]: PairCursor, order: "asc" | "desc" = "asc") {
  return sql<SqlBool>`(${sql.ref(a)}, ${sql.ref(b)}) ${sql.raw(order === "asc" ? ">" : "<")} (${first}, ${second})`;
}

/** How a List pages: which tokens are its cursors, and the cursor of a row. */
export interface Keyset<Row, Cursor> {
  isCursor: (value: unknown) => value is Cursor;
  cursorOf: (row: Row) => Cursor;
}

/**
 * One page of a List: decodes the request's token for `query`, asks `fetch`
 * for `limit` rows after the cursor (undefined on the first page; one more
 * than the page holds, to know whether another follows), and returns the
 * page with the token of the next one. Every List pages through here; one
 * whose rows can be large fetches them with `pageBytes` and
 * `withinPageBytes`, so the page ends by bytes too.
 */
export async function pageOf<Row, Cursor>(
  request: { pageSize: number; pageToken: string },
  query: unknown,
  keyset: Keyset<Row, Cursor>,
  fetch: (limit: number, after: Cursor | undefined) => Promise<Row[]>,
): Promise<{ page: Row[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(request.pageToken, query, keyset.isCursor);
  return paginate(await fetch(size + 1, after), size, query, keyset.cursorOf);
}

/** The keyset of a list sorted by two text keys of its rows, e.g. create time, then a unique id. */
export const pairKeyset = <Row>(cursorOf: (row: Row) => PairCursor): Keyset<Row, PairCursor> => ({
  isCursor: isPairCursor,
  cursorOf,
});
