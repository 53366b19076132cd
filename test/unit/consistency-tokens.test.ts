import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CONSISTENCY_TOKEN_HEADER, consistencyTokens, UserService } from "../../client/index.js";

// The client's half of read-your-writes, in process (the Connect team's
// router transport): a service that answers with the token it is asked to,
// and records the token each call arrived with.

function serviceAnsweringWith() {
  const arrivedWith: (string | null)[] = [];
  const transport = createRouterTransport(
    (router) =>
      router.service(UserService, {
        // The "name" is the token to answer with ("" for none).
        getUser(req, context) {
          arrivedWith.push(context.requestHeader.get(CONSISTENCY_TOKEN_HEADER));
          if (req.name !== "") context.responseHeader.set(CONSISTENCY_TOKEN_HEADER, req.name);
          return {};
        },
      }),
    { transport: { interceptors: [consistencyTokens()] } },
  );
  return { users: createClient(UserService, transport), arrivedWith };
}

describe("consistencyTokens", () => {
  it("sends nothing until a response carries a token, then the latest one", async () => {
    const { users, arrivedWith } = serviceAnsweringWith();
    await users.getUser({ name: "" });
    await users.getUser({ name: "0/16B3748" });
    await users.getUser({ name: "" });
    await users.getUser({ name: "1/0" });
    await users.getUser({ name: "" });
    expect(arrivedWith).toEqual([null, null, "0/16B3748", "0/16B3748", "1/0"]);
  });

  it("keeps the later of two tokens, as writes answering out of order would send them", async () => {
    const { users, arrivedWith } = serviceAnsweringWith();
    await users.getUser({ name: "A/20" });
    await users.getUser({ name: "A/1F" });
    await users.getUser({ name: "9/FFFFFFFF" });
    await users.getUser({ name: "" });
    expect(arrivedWith.at(-1)).toBe("A/20");
  });

  it("leaves a token the caller sets alone, and ignores one it cannot read", async () => {
    const { users, arrivedWith } = serviceAnsweringWith();
    await users.getUser({ name: "0/10" });
    await users.getUser({ name: "" }, { headers: { [CONSISTENCY_TOKEN_HEADER]: "0/1" } });
    await users.getUser({ name: "garbage" });
    await users.getUser({ name: "" });
    expect(arrivedWith.slice(1)).toEqual(["0/1", "0/10", "0/10"]);
  });
});
