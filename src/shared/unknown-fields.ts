import { type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { isReflectMessage, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { FieldViolation } from "../domain/errors.js";
import { apiError } from "./errors.js";

/**
 * Refuses requests the rest of the server must never see, naming each field,
 * at any depth, in every protocol:
 * - fields this server does not know, instead of dropping them: a client that
 *   sets `duplicate_of` or `is_admin` must learn that nothing was set (JSON
 *   gets the same from the adapter, `ignoreUnknownFields: false`; binary
 *   keeps unknown fields on the message, and this finds them);
 * - text PostgreSQL cannot store or that would change on the way: NUL, or a
 *   lone UTF-16 surrogate (JSON can carry one; it would become U+FFFD);
 * - timestamps and durations outside their defined range, which binary can
 *   carry and which would fail later, as a bug, wherever they are used.
 */
export function createUnknownFieldsInterceptor(): Interceptor {
  return (next) => (req) => {
    if (!req.stream) {
      assertNoUnknownFields(req.method.input, req.message);
      return next(req);
    }
    const messages = req.message;
    return next({
      ...req,
      message: (async function* () {
        for await (const message of messages) {
          assertNoUnknownFields(req.method.input, message);
          yield message;
        }
      })(),
    });
  };
}

function assertNoUnknownFields(desc: DescMessage, message: Message): void {
  const violations: FieldViolation[] = [];
  collect(reflect(desc, message), "", violations);
  if (violations.length === 0) return;
  const reasons = new Set(violations.map((violation) => violation.reason));
  throw apiError(
    Code.InvalidArgument,
    reasons.size === 1 ? (violations[0]?.reason ?? "MALFORMED_REQUEST") : "MALFORMED_REQUEST",
    `the request has fields that are unknown or malformed: ${violations.map((v) => v.field).join(", ")}`,
    { fieldViolations: violations },
  );
}

/** Appends a violation per unknown field of `message` and of every message inside it. */
function collect(message: ReflectMessage, path: string, violations: FieldViolation[]): void {
  for (const unknown of message.getUnknown() ?? []) {
    violations.push({
      field: `${path}${path ? "." : ""}[${unknown.no}]`,
      description: `field number ${unknown.no} is not a field of ${message.desc.typeName}`,
      reason: "UNKNOWN_FIELD",
    });
  }
  const problem = wellKnownProblem(message);
  if (problem) violations.push({ field: path, description: problem, reason: "OUT_OF_RANGE" });
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const at = `${path}${path ? "." : ""}${field.name}`;
    const value: unknown = message.get(field);
    for (const text of stringsOf(field, value)) {
      const issue = textProblem(text);
      if (issue) violations.push({ field: at, description: issue, reason: "MALFORMED_TEXT" });
    }
    if (field.fieldKind === "message" && isReflectMessage(value)) collect(value, at, violations);
    if (field.fieldKind === "list" && field.listKind === "message") {
      let index = 0;
      for (const item of value as Iterable<unknown>) {
        if (isReflectMessage(item)) collect(item, `${at}[${index}]`, violations);
        index++;
      }
    }
    if (field.fieldKind === "map" && field.mapKind === "message") {
      for (const [key, item] of value as Iterable<[unknown, unknown]>) {
        if (isReflectMessage(item)) collect(item, `${at}[${String(key)}]`, violations);
      }
    }
  }
}

/** The string values of a field: itself, each item of a list, each key and value of a map. */
function stringsOf(field: DescField, value: unknown): string[] {
  if (field.fieldKind === "scalar" && field.scalar === ScalarType.STRING) return [value as string];
  if (field.fieldKind === "list" && field.listKind === "scalar" && field.scalar === ScalarType.STRING)
    return [...(value as Iterable<string>)];
  if (field.fieldKind === "map") {
    const strings: string[] = [];
    for (const [key, item] of value as Iterable<[unknown, unknown]>) {
      if (typeof key === "string") strings.push(key);
      if (typeof item === "string") strings.push(item);
    }
    return strings;
  }
  return [];
}

function textProblem(text: string): string | undefined {
  if (text.includes("\u0000")) return "must not contain NUL (U+0000)";
  if (/\p{Cs}/u.test(text)) return "must be well-formed Unicode (it has a lone surrogate)";
  return undefined;
}

/** google.protobuf.Timestamp: 0001-01-01 to 9999-12-31 (RFC 3339); Duration: ±10,000 years. */
const TIMESTAMP_SECONDS = { min: -62_135_596_800n, max: 253_402_300_799n };
const DURATION_SECONDS = 315_576_000_000n;

function wellKnownProblem(message: ReflectMessage): string | undefined {
  const typeName = message.desc.typeName;
  if (typeName !== "google.protobuf.Timestamp" && typeName !== "google.protobuf.Duration") return undefined;
  const { seconds, nanos } = message.message as unknown as { seconds: bigint; nanos: number };
  if (typeName === "google.protobuf.Timestamp") {
    if (
      seconds < TIMESTAMP_SECONDS.min ||
      seconds > TIMESTAMP_SECONDS.max ||
      nanos < 0 ||
      nanos > 999_999_999
    )
      return "is not a valid timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)";
    return undefined;
  }
  const sameSign = seconds === 0n || nanos === 0 || seconds > 0n === nanos > 0;
  if (seconds < -DURATION_SECONDS || seconds > DURATION_SECONDS || Math.abs(nanos) > 999_999_999 || !sameSign)
    return "is not a valid duration";
  return undefined;
}
