import { z } from "zod";

// Every setting comes from the environment and is checked once, at startup,
// so a bad deployment fails with one message listing every problem.
const list = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean),
);

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .optional()
    .describe("PostgreSQL to use; unset means an embedded PostgreSQL under DATA_DIR"),
  DATA_DIR: z.string().min(1).default(".data"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(20),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  NODE_ENV: z.string().default("development"),
  // Authentication: bearer JWTs of an OpenID provider, or (development only)
  // of a key kept under DATA_DIR.
  AUTH_MODE: z.enum(["oidc", "dev"]).default("oidc"),
  OIDC_ISSUER: z.url().optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  OIDC_ALGORITHMS: list.default(["RS256", "ES256", "PS256", "EdDSA"]),
  OIDC_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  /** Token subjects allowed to read the audit log. */
  INSTANCE_ADMINS: list.default([]),
  // Limits against unrestricted resource consumption (OWASP API4).
  RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(200),
  MAX_WATCH_STREAMS_PER_USER: z.coerce.number().int().min(1).default(8),
  MAX_DEADLINE_MS: z.coerce.number().int().min(1_000).default(60_000),
  STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`DATABASE_URL= npm start`) means unset.
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = schema.safeParse(set);
  // Rules across settings are checked on the raw values, so one message
  // lists them together with every other problem.
  const problems = [
    ...(result.error?.issues ?? []).map((issue) => `  ${issue.path.join(".")}: ${issue.message}`),
    ...crossChecks(set),
  ];
  if (!result.success || problems.length > 0) {
    throw new Error(`invalid configuration:\n${problems.join("\n")}`);
  }
  return result.data;
}

function crossChecks(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const mode = env.AUTH_MODE ?? "oidc";
  if (mode === "oidc") {
    for (const key of ["OIDC_ISSUER", "OIDC_AUDIENCE"]) {
      if (!env[key]) problems.push(`  ${key}: required when AUTH_MODE=oidc`);
    }
  }
  if (mode === "dev" && env.NODE_ENV === "production") {
    problems.push("  AUTH_MODE: dev mode trusts a local key and is refused when NODE_ENV=production");
  }
  return problems;
}
