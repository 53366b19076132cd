// The errors the domain raises, in the contract's terms (AIP-193: a code,
// an UPPER_SNAKE reason, a message for people, field violations), without
// knowing the protocol. src/shared/errors.ts turns them into Connect errors,
// so the domain can be used (and tested) without a server.

/** The gRPC codes the domain raises, as the protocols spell them. */
export const ERROR_CODES = [
  "invalid_argument",
  "not_found",
  "already_exists",
  "permission_denied",
  "failed_precondition",
  "aborted",
  "resource_exhausted",
  "out_of_range",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldViolation {
  field: string;
  description: string;
  reason?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
    message: string,
    readonly metadata: Record<string, string> = {},
    readonly fieldViolations: FieldViolation[] = [],
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const notFound = (name: string) =>
  new DomainError("not_found", "RESOURCE_NOT_FOUND", `${name} does not exist`, { resource: name });

export const invalidArgument = (field: string, description: string, reason = "INVALID_ARGUMENT") =>
  new DomainError("invalid_argument", reason, `${field}: ${description}`, {}, [
    { field, description, reason },
  ]);

/** A state the resource must leave first (deleted, last admin...), named in `metadata.resource`. */
export const failedPrecondition = (reason: string, message: string, resource: string) =>
  new DomainError("failed_precondition", reason, message, { resource });

/**
 * A required text field. The contract lets it through empty (so an update
 * may leave it out of its mask); wherever a handler writes it, it must not be.
 */
export function required(value: string | undefined, field: string): string {
  if (!value) {
    throw new DomainError("invalid_argument", "INVALID_ARGUMENT", `${field}: is required`, {}, [
      { field, description: "is required", reason: "required" },
    ]);
  }
  return value;
}
