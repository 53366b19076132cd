import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ViolationsSchema } from "../../gen/proto/buf/validate/validate_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/proto/google/rpc/error_details_pb.js";
import { failedToConnect } from "../db/hosts.js";
import { DomainError, type ErrorCode, type FieldViolation } from "../domain/errors.js";
import { requestIdKey } from "./request-context.js";

// The one place errors become Connect errors (AIP-193). Every error leaves
// the server with a google.rpc.ErrorInfo (domain "tracker", UPPER_SNAKE
// reason) and a message written for people: never SQL, never a stack trace.

export const ERROR_DOMAIN = "tracker";

/** A code as the protocols spell it: `not_found`, `deadline_exceeded`... */
export const codeName = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();

type Detail<Desc extends DescMessage = DescMessage> = { desc: Desc; value: MessageInitShape<Desc> };

export function apiError(
  code: Code,
  reason: string,
  message: string,
  options: { metadata?: Record<string, string>; fieldViolations?: FieldViolation[]; cause?: unknown } = {},
): ConnectError {
  const details: Detail[] = [
    { desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN, metadata: options.metadata ?? {} } },
  ];
  if (options.fieldViolations?.length) {
    details.push({ desc: BadRequestSchema, value: { fieldViolations: options.fieldViolations } });
  }
  return new ConnectError(message, code, undefined, details, options.cause);
}

/** Unique constraints whose violation is the caller's conflict, not a bug. */
const UNIQUE_CONSTRAINTS: Record<string, { reason: string; message: string }> = {
  projects_key_key: {
    reason: "PROJECT_ALREADY_EXISTS",
    message: "a project with this project_id already exists",
  },
  labels_project_key_key: {
    reason: "LABEL_ALREADY_EXISTS",
    message: "a label with this label_id already exists in the project",
  },
  users_handle_key: {
    reason: "HANDLE_ALREADY_EXISTS",
    message: "another user has this handle",
  },
  members_pkey: {
    reason: "MEMBER_ALREADY_EXISTS",
    message: "the user already is a member of the project",
  },
};

interface PgError {
  code?: string;
  constraint?: string;
}

const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

const CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  resource_exhausted: Code.ResourceExhausted,
  out_of_range: Code.OutOfRange,
};

/** Turns anything a handler throws into a ConnectError with ErrorInfo. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return withErrorInfo(error);
  if (error instanceof DomainError) {
    return apiError(CODES[error.code], error.reason, error.message, {
      metadata: error.metadata,
      fieldViolations: error.fieldViolations,
    });
  }
  const pgError = (error ?? {}) as PgError;
  const sqlState = typeof pgError.code === "string" ? pgError.code : "";
  if (sqlState === "23505") {
    const known = pgError.constraint ? UNIQUE_CONSTRAINTS[pgError.constraint] : undefined;
    return apiError(
      Code.AlreadyExists,
      known?.reason ?? "ALREADY_EXISTS",
      known?.message ?? "the resource already exists",
      {
        cause: error,
      },
    );
  }
  if (sqlState === "23503") {
    return apiError(
      Code.FailedPrecondition,
      "REFERENCED_RESOURCE_MISSING",
      "a referenced resource does not exist",
      {
        cause: error,
      },
    );
  }
  if (sqlState === "23514" || sqlState.startsWith("22")) {
    return apiError(Code.InvalidArgument, "INVALID_ARGUMENT", "a field has an invalid value", {
      cause: error,
    });
  }
  if (sqlState === "40001" || sqlState === "40P01") {
    return apiError(
      Code.Aborted,
      "CONCURRENT_MODIFICATION",
      "the request conflicted with another one; retry it",
      {
        cause: error,
      },
    );
  }
  if (sqlState === "57014") {
    return apiError(Code.DeadlineExceeded, "DEADLINE_EXCEEDED", "the request took too long", {
      cause: error,
    });
  }
  if (
    sqlState.startsWith("08") ||
    sqlState === "57P01" ||
    sqlState === "57P02" ||
    sqlState === "57P03" ||
    sqlState === "53300" ||
    CONNECTION_ERRORS.has(sqlState) ||
    isConnectionFailure(error)
  ) {
    return apiError(Code.Unavailable, "DATABASE_UNAVAILABLE", "the database is unavailable; retry later", {
      cause: error,
    });
  }
  return apiError(Code.Internal, "INTERNAL", "internal error", { cause: error });
}

function isConnectionFailure(error: unknown): boolean {
  if (failedToConnect(error)) return true;
  if (!(error instanceof Error)) return false;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    error.message,
  );
}

/** Adds ErrorInfo (and BadRequest for protovalidate violations) when missing. */
/**
 * An error's size is bounded whatever the request: over gRPC it travels in
 * HTTP/2 trailers, which a long message or a thousand violations overflow.
 */
const MAX_VIOLATIONS = 20;
const MAX_MESSAGE_LENGTH = 1_000;

function withErrorInfo(error: ConnectError): ConnectError {
  if (error.findDetails(ErrorInfoSchema).length > 0) return error;
  const violations = error.findDetails(ViolationsSchema);
  // protovalidate's own detail, cut to the first violations like ours below.
  const details: Detail[] = (error.details as Detail[]).filter(
    (detail) => !("desc" in detail && detail.desc.typeName === ViolationsSchema.typeName),
  );
  for (const found of violations) {
    details.push({
      desc: ViolationsSchema,
      value: { violations: found.violations.slice(0, MAX_VIOLATIONS) },
    });
  }
  const reason = codeName(error.code).toUpperCase();
  details.push({ desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN } });
  for (const found of violations) {
    const fieldViolations = found.violations.slice(0, MAX_VIOLATIONS).map((violation) => ({
      field: fieldPath(violation.field?.elements ?? []),
      description: violation.message,
      reason: violation.ruleId,
    }));
    details.push({ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations }) });
  }
  return new ConnectError(
    error.rawMessage.slice(0, MAX_MESSAGE_LENGTH),
    error.code,
    error.metadata,
    details,
    error.cause,
  );
}

/** `issue.labels[0]`, `filter.states[1]`: the path of a violation as AIP-193 writes it. */
function fieldPath(elements: { fieldName: string; subscript: { case?: string; value?: unknown } }[]): string {
  return elements
    .map((element) => {
      const { case: kind, value } = element.subscript;
      if (kind === "index") return `${element.fieldName}[${value}]`;
      if (kind !== undefined) return `${element.fieldName}[${JSON.stringify(String(value))}]`;
      return element.fieldName;
    })
    .join(".");
}

/**
 * Maps every error a handler raises, also those raised while a response
 * stream is being read. It runs outermost, so it sees validation errors too.
 * Bugs (INTERNAL) are logged with their stack; the caller sees none of it.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  let unavailableLoggedAt = 0;
  let unavailableUnlogged = 0;
  return (next) => async (req) => {
    const map = (error: unknown) => {
      // Not a bug: the client went away while its stream was being written.
      if (clientHungUp(error)) {
        return apiError(Code.Canceled, "CLIENT_CLOSED_REQUEST", "the client closed the request", {
          cause: error,
        });
      }
      const mapped = toConnectError(error);
      if (mapped.code === Code.Unavailable && isDatabaseUnavailable(mapped)) {
        // Why the database cannot be had (refused, a pooler's complaint) is
        // the operator's to see; once a second, not once a call, in an outage.
        const now = Date.now();
        if (now - unavailableLoggedAt >= 1_000) {
          logger.warn(
            { err: mapped.cause, procedure: req.url, unlogged: unavailableUnlogged },
            "database unavailable",
          );
          unavailableLoggedAt = now;
          unavailableUnlogged = 0;
        } else unavailableUnlogged++;
      }
      if (mapped.code !== Code.Internal && mapped.code !== Code.Unknown) return mapped;
      // A bug: the log gets the stack, the caller an id to quote in a report.
      const requestId = req.contextValues.get(requestIdKey);
      logger.error({ err: mapped.cause ?? error, procedure: req.url, requestId }, "handler failed");
      return apiError(
        Code.Internal,
        "INTERNAL",
        `internal error; quote request id ${requestId} when reporting it`,
        {
          metadata: { request_id: requestId },
          cause: mapped.cause ?? error,
        },
      );
    };
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message, map) };
    } catch (error) {
      throw map(error);
    }
  };
}

function isDatabaseUnavailable(error: ConnectError): boolean {
  return error.findDetails(ErrorInfoSchema).some((info) => info.reason === "DATABASE_UNAVAILABLE");
}

/**
 * Errors of writing a response whose client hung up (connection reset,
 * stream cancelled). connect-node throws them into the handler's response
 * stream, where they would pass for the handler's own failure. Only Node's
 * HTTP stream errors: a database connection reset (ECONNRESET) stays UNAVAILABLE.
 */
const HUNG_UP = new Set([
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_HTTP2_INVALID_STREAM",
]);

function clientHungUp(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return !(error instanceof ConnectError) && typeof code === "string" && HUNG_UP.has(code);
}

async function* mapStreamErrors<T>(
  messages: AsyncIterable<T>,
  map: (error: unknown) => ConnectError,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}
