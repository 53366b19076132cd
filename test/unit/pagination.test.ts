import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import {
  DEFAULT_PAGE_SIZE,
  encodePageToken,
  fitting,
  isPairCursor,
  MAX_PAGE_SIZE,
  PAGE_BYTES,
  pageOf,
  pageSize,
  pairKeyset,
} from "../../src/domain/shared/pagination.js";

// Keyset pagination, with an array standing in for the query.

interface Row {
  time: string;
  id: string;
}
const ROWS: Row[] = Array.from({ length: 7 }, (_, index) => ({ time: `t${index}`, id: `id${index}` }));
const keyset = pairKeyset((row: Row): [string, string] => [row.time, row.id]);
const query = { method: "ListThings", parent: "projects/CORE" };

/** The rows after the cursor, at most `limit`: what a keyset query returns. */
const fetchFrom = (rows: Row[]) => async (limit: number, after: [string, string] | undefined) =>
  rows.filter((row) => !after || row.time > after[0]).slice(0, limit);

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(error)}`);
  return error.reason;
}

describe("page sizes", () => {
  it("uses the default for 0 and clamps above the maximum", () => {
    expect(pageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(pageSize(3)).toBe(3);
    expect(pageSize(MAX_PAGE_SIZE + 1)).toBe(MAX_PAGE_SIZE);
  });
});

describe("pageOf", () => {
  it("walks every row exactly once, in order, and ends with an empty token", async () => {
    const seen: Row[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const { page, nextPageToken } = await pageOf(
        { pageSize: 3, pageToken },
        query,
        keyset,
        fetchFrom(ROWS),
      );
      seen.push(...page);
      pageToken = nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen).toEqual(ROWS);
    expect(pages).toBe(3);
  });

  it("asks for one row more than the page, to know whether another page follows", async () => {
    const limits: number[] = [];
    const { page, nextPageToken } = await pageOf(
      { pageSize: 7, pageToken: "" },
      query,
      keyset,
      (limit, after) => {
        limits.push(limit);
        return fetchFrom(ROWS)(limit, after);
      },
    );
    expect(limits).toEqual([8]);
    expect(page).toHaveLength(7);
    expect(nextPageToken).toBe("");
  });

  it("ends a page by bytes too, with one row at least, and walks every row once", async () => {
    // Row sizes as a query with pageBytes reports them: a third of the budget, one larger than it.
    const sizes = [PAGE_BYTES / 3, PAGE_BYTES / 3, PAGE_BYTES / 3, PAGE_BYTES * 2, 10, 10, PAGE_BYTES / 2];
    const sized = ROWS.map((row, index) => ({ ...row, bytes: sizes[index] as number }));
    const fetchSized = async (limit: number, after: [string, string] | undefined) => {
      let before = 0;
      return sized
        .filter((row) => !after || row.time > after[0])
        .slice(0, limit)
        .map(({ bytes, ...row }) => {
          const counted = { ...row, page_row_bytes: String(bytes), page_bytes_before: String(before) };
          before += bytes;
          return counted;
        });
    };
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const { page, nextPageToken } = await pageOf({ pageSize: 0, pageToken }, query, keyset, fetchSized);
      pages.push(page.map((row) => row.id));
      pageToken = nextPageToken;
    } while (pageToken !== "" && pages.length < 10);
    expect(pages).toEqual([["id0", "id1", "id2"], ["id3"], ["id4", "id5", "id6"]]);
  });

  it("refuses a token of another query", async () => {
    const token = encodePageToken({ ...query, parent: "projects/OTHER" }, ["t1", "id1"]);
    expect(await reasonOf(pageOf({ pageSize: 3, pageToken: token }, query, keyset, fetchFrom(ROWS)))).toBe(
      "PAGE_TOKEN_MISMATCH",
    );
  });

  it("refuses tokens it did not issue", async () => {
    const notOurs = [
      "not base64 json",
      Buffer.from("[1,2]").toString("base64url"),
      encodePageToken(query, ["only one part"]),
      encodePageToken(query, [1, 2]),
    ];
    for (const pageToken of notOurs) {
      expect(await reasonOf(pageOf({ pageSize: 3, pageToken }, query, keyset, fetchFrom(ROWS)))).toBe(
        "INVALID_PAGE_TOKEN",
      );
    }
  });

  it("keeps the token opaque: no query parameter can be read from it", () => {
    const token = encodePageToken({ method: "ListThings", parent: "projects/SECRET" }, ["t1", "id1"]);
    expect(Buffer.from(token, "base64url").toString("utf8")).not.toContain("SECRET");
  });
});

describe("isPairCursor", () => {
  it("accepts two strings and nothing else", () => {
    expect(isPairCursor(["a", "b"])).toBe(true);
    expect(isPairCursor(["a"])).toBe(false);
    expect(isPairCursor(["a", 1])).toBe(false);
    expect(isPairCursor("a,b")).toBe(false);
  });
});

describe("fitting", () => {
  const rows = (...bytes: number[]) => {
    let before = 0;
    return bytes.map((size, index) => {
      const row = { index, page_row_bytes: size, page_bytes_before: before };
      before += size;
      return row;
    });
  };

  it("keeps rows up to the count or the byte budget, one at least, and says whether any are left", () => {
    expect(fitting(rows(10, 10, 10), 5)).toEqual({ fit: rows(10, 10, 10), more: false });
    expect(fitting(rows(10, 10, 10), 2).fit.map((row) => row.index)).toEqual([0, 1]);
    expect(fitting(rows(10, 10, 10), 2).more).toBe(true);
    const huge = fitting(rows(PAGE_BYTES + 1, 10), 5);
    expect(huge.fit.map((row) => row.index)).toEqual([0]);
    expect(huge.more).toBe(true);
    const split = fitting(rows(PAGE_BYTES / 2, PAGE_BYTES / 2, 1), 5);
    expect(split.fit.map((row) => row.index)).toEqual([0, 1]);
    expect(split.more).toBe(true);
    expect(fitting([], 5)).toEqual({ fit: [], more: false });
  });
});
