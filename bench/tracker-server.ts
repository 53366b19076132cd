import type { ServiceImpl } from "@connectrpc/connect";
import type { Issue, IssueService } from "../gen/proto/tracker/v1/issue_pb.js";
import { createApp, createLogger } from "../src/app.js";
import type { Authenticator } from "../src/auth/authenticator.js";
import { loadConfigOrExit } from "../src/config.js";
import type { AppContext } from "../src/context.js";
import { notFound } from "../src/domain/errors.js";
import { toIssue } from "../src/domain/issues/issue-mapping.js";
import { compiledIssueWithCallerRole } from "../src/domain/issues/issue-store.js";
import { issueNumberOf, projectKeyOf } from "../src/domain/shared/names.js";
import { REMOVABLE_LAYERS, type RemovableLayer } from "../src/server/create-server.js";
import { callerOf } from "../src/shared/caller.js";
import { type AblatedLayer, isAblatedLayer } from "./ablation.js";
import { BENCH_CLAIMS } from "./seed.js";

/**
 * The tracker for the bench's ablation table, never for production: one
 * process like `node dist/src/main.js` with WORKERS=1 (settings from the
 * environment, a migrated DATABASE_URL), with the layers named in its one
 * argument left out, e.g. `node dist/bench/tracker-server.js request-log,metrics`.
 * The bench compiles it with the server (bench/tsconfig.build.json).
 */
const layersOff = (process.argv[2] ?? "").split(",").filter(Boolean);
const unknown = layersOff.filter((layer) => !isAblatedLayer(layer));
if (unknown.length > 0) throw new Error(`no such layer to leave out: ${unknown.join(", ")}`);
const off = new Set(layersOff as AblatedLayer[]);

/** Token check off: every request is the bench user's, whatever it sends. */
const trustingAuthenticator: Authenticator = {
  verify: async () => ({
    subject: BENCH_CLAIMS.sub,
    email: BENCH_CLAIMS.email,
    name: BENCH_CLAIMS.name,
    preferredUsername: "",
    expiresAt: Number.MAX_SAFE_INTEGER,
  }),
};

/** src/services/issues/get-issue.ts, step for step, with its row mapped once. */
const getIssueMappedOnce = (ctx: AppContext): ServiceImpl<typeof IssueService>["getIssue"] => {
  const issueWithCallerRole = compiledIssueWithCallerRole(ctx.db);
  let mappedOnce: Issue | undefined;
  return async (req, context) => {
    const key = projectKeyOf(req.name);
    const query = issueWithCallerRole(callerOf(context).userUid, key, issueNumberOf(req.name));
    const [row] = (await ctx.db.executeQuery(query)).rows;
    if (!row?.caller_role) throw notFound(req.name);
    mappedOnce ??= toIssue(row, key);
    return mappedOnce;
  };
};

const config = loadConfigOrExit();
const logger = createLogger(config);
const app = await createApp(config, {
  logger,
  ...(off.has("token-check") && { authenticator: trustingAuthenticator }),
  ablation: {
    layersOff: new Set(REMOVABLE_LAYERS.filter((layer: RemovableLayer) => off.has(layer))),
    ...(off.has("row-mapping") && { getIssue: getIssueMappedOnce }),
  },
});
const address = await app.listen(config.PORT, config.HOST);
// bench/processes.ts waits for this line's address.
logger.info({ address: `${address.address}:${address.port}`, layersOff }, "bench tracker listening");
process.once("SIGTERM", () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
