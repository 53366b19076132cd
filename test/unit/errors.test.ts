import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/proto/google/rpc/error_details_pb.js";
import { DomainError, ERROR_CODES, invalidArgument, notFound } from "../../src/domain/errors.js";
import { codeName, toConnectError } from "../../src/shared/errors.js";

// The domain raises errors without knowing Connect; this is the one place they become Connect errors.

describe("toConnectError of a DomainError", () => {
  it("keeps code, reason, message and metadata, as ErrorInfo", () => {
    const error = toConnectError(notFound("projects/CORE"));
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("projects/CORE does not exist");
    expect(
      error
        .findDetails(ErrorInfoSchema)
        .map(({ reason, domain, metadata }) => ({ reason, domain, metadata })),
    ).toEqual([{ reason: "RESOURCE_NOT_FOUND", domain: "tracker", metadata: { resource: "projects/CORE" } }]);
  });

  it("carries field violations as BadRequest", () => {
    const error = toConnectError(
      invalidArgument("issue.labels", "belongs to another project", "LABEL_OF_OTHER_PROJECT"),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(
      error
        .findDetails(BadRequestSchema)[0]
        ?.fieldViolations.map(({ field, description, reason }) => ({ field, description, reason })),
    ).toEqual([
      { field: "issue.labels", description: "belongs to another project", reason: "LABEL_OF_OTHER_PROJECT" },
    ]);
  });

  it("maps every code the domain raises to the gRPC code of the same name", () => {
    for (const name of ERROR_CODES) {
      expect(codeName(toConnectError(new DomainError(name, "R", "m")).code)).toBe(name);
    }
  });
});
