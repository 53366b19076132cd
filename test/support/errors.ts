import { type Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/proto/google/rpc/error_details_pb.js";

/**
 * Awaits a call that must fail with `code`, checks the ErrorInfo every error
 * carries, and returns the error for further checks.
 */
export async function expectError(
  call: Promise<unknown>,
  code: Code,
  reason?: string,
): Promise<ConnectError> {
  const error = await call.then(
    () => expect.fail(`expected the call to fail with code ${code}`),
    (thrown: unknown) => ConnectError.from(thrown),
  );
  expect(error.code, error.message).toBe(code);
  const [info] = error.findDetails(ErrorInfoSchema);
  expect(info?.domain).toBe("tracker");
  if (reason) expect(info?.reason).toBe(reason);
  return error;
}

/** The fields named by the google.rpc.BadRequest detail of an error. */
export function violatedFields(error: ConnectError): string[] {
  return error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations.map((v) => v.field));
}
