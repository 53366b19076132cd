import { create } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";

/**
 * Converts PostgreSQL's timestamptz text in UTC ("2026-11-21 08:42:28.123456+00")
 * to a Timestamp without losing the microseconds a JS Date would drop.
 */
export function timestampFromPg(text: string): Timestamp {
  const match = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:\+00(?::?00)?|Z)$/.exec(text);
  if (!match) throw new Error(`unexpected timestamptz text: ${text}`);
  const [, date, time, fraction = ""] = match;
  const millis = Date.parse(`${date}T${time}Z`);
  return create(TimestampSchema, {
    seconds: BigInt(millis / 1000),
    nanos: Number(fraction.padEnd(9, "0")),
  });
}

/** A Timestamp as RFC 3339 text with all nine fractional digits, for comparisons in SQL. */
export function timestampToText(timestamp: Timestamp): string {
  const iso = new Date(Number(timestamp.seconds) * 1000).toISOString();
  return iso.replace(/\.\d{3}Z$/, `.${String(timestamp.nanos).padStart(9, "0")}Z`);
}
