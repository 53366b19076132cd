import type { DescMessage, Message } from "@bufbuild/protobuf";
import { isReflectMessage, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { FieldViolation } from "../domain/errors.js";
import { apiError } from "./errors.js";

/**
 * Refuses requests that carry fields this server does not know, instead of
 * dropping them: a client that sets `duplicate_of` or `is_admin` must learn
 * that nothing was set. JSON gets the same from the adapter
 * (`ignoreUnknownFields: false`); binary keeps unknown fields on the message,
 * and this finds them, at any depth.
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
  throw apiError(
    Code.InvalidArgument,
    "UNKNOWN_FIELD",
    `the request has fields this server does not know: ${violations.map((v) => v.field).join(", ")}`,
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
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const at = `${path}${path ? "." : ""}${field.name}`;
    const value: unknown = message.get(field);
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
