import { randomUUID } from "node:crypto";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../gen/proto/tracker/v1/user_pb.js";
import { expectError, violatedFields } from "./support/errors.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { actingAs, PROTOCOLS, transportFor } from "./support/transports.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

// Users are global, so every test acts as people of its own.
let sequence = 0;
const newSubject = () => `user-${sequence++}-${randomUUID().slice(0, 8)}`;

const usersAs = (subject: string) =>
  createClient(UserService, transportFor("Connect binary over HTTP/2", server.baseUrl, subject));

describe.each(PROTOCOLS)("UserService over %s", (protocol) => {
  let subject: string;
  let client: Client<typeof UserService>;
  beforeAll(() => {
    subject = newSubject();
    client = createClient(UserService, transportFor(protocol, server.baseUrl, subject));
  });

  it("returns the caller as the current user, named after its uid", async () => {
    const user = await client.getCurrentUser({});
    expect(user.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(user.name).toBe(`users/${user.uid}`);
    expect(user.createTime?.seconds).toBeGreaterThan(0n);
    expect(user.updateTime).toEqual(user.createTime);
  });

  it("returns the same user on every call of the same caller", async () => {
    const first = await client.getCurrentUser({});
    const second = await client.getCurrentUser({});
    expect(second).toEqual(first);
  });

  it("gets another user by name", async () => {
    const other = await usersAs(newSubject()).getCurrentUser({});
    const fetched = await client.getUser({ name: other.name });
    expect(fetched).toEqual(other);
    expect(fetched.uid).not.toBe((await client.getCurrentUser({})).uid);
  });

  it("returns NOT_FOUND for a user that does not exist", async () => {
    const name = `users/${randomUUID()}`;
    const error = await expectError(client.getUser({ name }), Code.NotFound, "RESOURCE_NOT_FOUND");
    expect(error.rawMessage).toBe(`${name} does not exist`);
  });
});

describe("UserService", () => {
  it("takes the display name and e-mail from the identity and keeps them when a call omits them", async () => {
    const subject = newSubject();
    const profile: Record<string, string> = {
      "x-tracker-user-name": "Ada Lovelace",
      "x-tracker-user-email": "ada@example.com",
    };
    const withProfile = createClient(
      UserService,
      createConnectTransport({
        baseUrl: server.baseUrl,
        httpVersion: "1.1",
        interceptors: [
          actingAs(subject),
          (next) => (req) => {
            for (const [header, value] of Object.entries(profile)) req.header.set(header, value);
            return next(req);
          },
        ],
      }),
    );
    const user = await withProfile.getCurrentUser({});
    expect(user).toMatchObject({ displayName: "Ada Lovelace", email: "ada@example.com" });
    expect(await usersAs(subject).getCurrentUser({})).toMatchObject({
      uid: user.uid,
      displayName: "Ada Lovelace",
      email: "ada@example.com",
    });
  });

  it("leaves the e-mail empty when the identity gives none", async () => {
    const user = await usersAs(newSubject()).getCurrentUser({});
    expect(user.email).toBe("");
  });

  it.each([
    ["no prefix", randomUUID()],
    ["a subject instead of a uid", "users/alice"],
    ["an upper-case uid", `users/${randomUUID().toUpperCase()}`],
    ["an empty name", ""],
  ])("rejects a name with %s with INVALID_ARGUMENT naming the field", async (_, name) => {
    const error = await expectError(
      usersAs(newSubject()).getUser({ name }),
      Code.InvalidArgument,
      "INVALID_ARGUMENT",
    );
    expect(violatedFields(error)).toEqual(["name"]);
  });

  it("refuses callers who do not name themselves: UNAUTHENTICATED", async () => {
    const anonymous = createClient(UserService, transportFor("gRPC over HTTP/2", server.baseUrl, ""));
    await expectError(anonymous.getCurrentUser({}), Code.Unauthenticated, "UNAUTHENTICATED");
  });
});
