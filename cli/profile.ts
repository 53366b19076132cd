// Where the CLI sends its calls and with which token: profiles in
// $XDG_CONFIG_HOME/tracker/config.json (default ~/.config), written by
// `tracker login` readable by the user alone (0600), since a profile may hold
// a token. Flags beat TRACKER_SERVER / TRACKER_TOKEN, which beat the profile;
// a profile's token goes only to the profile's server.
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { UsageError } from "./request.js";

export const PROTOCOLS = ["connect", "grpc", "grpc-web"] as const;
export type CliProtocol = (typeof PROTOCOLS)[number];

const ProfileSchema = z.object({
  server: z.string(),
  /** A token kept as is; prefer tokenCommand, which mints a fresh one per run. */
  token: z.string().optional(),
  /** A shell command printing a token, e.g. `npm run -s token -- --sub alice`. */
  tokenCommand: z.string().optional(),
  protocol: z.enum(PROTOCOLS).optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

const ConfigSchema = z.object({ profiles: z.record(z.string(), ProfileSchema).default({}) });
type Config = z.infer<typeof ConfigSchema>;

export const DEFAULT_PROFILE = "default";

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "tracker", "config.json");
}

function readConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { profiles: {} };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON: fix or remove it`);
  }
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${path} is not a tracker config: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * Written to a new file of mode 0600 renamed over the old one: never into
 * the old file itself, which may be readable by others until a chmod (or be
 * a link to a file that stays so).
 */
export function saveProfile(name: string, profile: Profile, path = configPath()): void {
  const config = readConfig(path);
  config.profiles[name] = profile;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to what it creates.
  chmodSync(dirname(path), 0o700);
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** A server URL as it names the server: `http://Host:80/` is `http://host`. */
function serverOf(url: string): string {
  try {
    return new URL(url).href.replace(/\/+$/, "");
  } catch {
    return url.replace(/\/+$/, "");
  }
}

export interface Target {
  server: string;
  protocol: CliProtocol;
  /** The bearer token, run for if it comes from a command; undefined: none. */
  token: () => string | undefined;
}

export interface TargetFlags {
  server?: string | undefined;
  token?: string | undefined;
  profile?: string | undefined;
  protocol?: string | undefined;
}

export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Target {
  const name = flags.profile ?? env.TRACKER_PROFILE ?? DEFAULT_PROFILE;
  const profile = readConfig(configPath(env)).profiles[name];
  if (flags.profile && !profile) throw new UsageError(`no profile "${flags.profile}" in ${configPath(env)}`);
  const server = flags.server ?? env.TRACKER_SERVER ?? profile?.server;
  if (!server)
    throw new UsageError("no server: run `tracker login --server URL`, or set --server or TRACKER_SERVER");
  const protocol = flags.protocol ?? profile?.protocol ?? "connect";
  if (!(PROTOCOLS as readonly string[]).includes(protocol))
    throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(", ")}`);
  const given = flags.token ?? env.TRACKER_TOKEN;
  const profileToken = profile && (profile.token !== undefined || profile.tokenCommand !== undefined);
  // The profile's token was given to its server: another (a --server typed,
  // a TRACKER_SERVER someone set) must not receive it.
  if (given === undefined && profileToken && serverOf(server) !== serverOf(profile.server))
    throw new UsageError(
      `profile "${name}" holds a token for ${profile.server}, not ${server}: give a token for ${server} (TRACKER_TOKEN, --token-file or --token -) or \`tracker login --server ${server}\``,
    );
  const fixed = given ?? profile?.token;
  const command = fixed === undefined ? profile?.tokenCommand : undefined;
  let minted: string | undefined;
  return {
    server: server.replace(/\/+$/, ""),
    protocol: protocol as CliProtocol,
    token: () => {
      if (fixed !== undefined) return fixed || undefined;
      if (command === undefined) return undefined;
      minted ??= runTokenCommand(command);
      return minted;
    },
  };
}

export function runTokenCommand(command: string): string {
  try {
    return execSync(command, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  } catch {
    throw new Error(`the token command failed: ${command}`);
  }
}
