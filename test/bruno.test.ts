import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BrunoTokens,
  freshMemberSubject,
  REVIEWER_SUBJECT,
  runBruno,
  USER_SUBJECT,
} from "../tools/bruno.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { tokenFor } from "./support/transports.js";

// The Bruno collection in bruno/ is documentation users run; running it here
// with the real Bruno CLI keeps it true.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** Tokens of the test file's OpenID provider; the member is someone new on every run. */
async function tokens(): Promise<BrunoTokens> {
  const memberSubject = freshMemberSubject();
  return {
    token: await tokenFor(USER_SUBJECT),
    reviewerToken: await tokenFor(REVIEWER_SUBJECT),
    memberToken: await tokenFor(memberSubject),
    memberSubject,
  };
}

describe("the Bruno collection", () => {
  it("passes every request against a fresh server, twice in a row", async () => {
    for (let run = 0; run < 2; run++) {
      const result = await runBruno(server.baseUrl, { tokens: await tokens() });
      expect(result.exitCode, result.output).toBe(0);
      expect(result.failed).toBe(0);
      expect(result.passed).toBeGreaterThanOrEqual(10);
      expect(result.assertions.failed + result.tests.failed).toBe(0);
    }
  }, 120_000);
});
