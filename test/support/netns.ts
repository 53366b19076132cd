import { execFileSync, spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";

// Hosts of a test's own, each in a Linux network namespace on a private /24
// that only this machine has: a bridge in the root namespace holds .1 (where
// the test's nginx, PgBouncer and PostgreSQL are reached) and each host gets
// a veth pair into the bridge and .11, .12, ... Needs root and iproute2.

const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].find((path) => existsSync(path));

/** Why host networks cannot be made here, or undefined when they can. */
export function hostNetworkUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces are Linux only";
  if (process.getuid?.() !== 0) return "network namespaces need root";
  if (!IP) return "iproute2 (ip) is not installed";
  const probe = `trkprobe${process.pid}`;
  const made = spawnSync(IP, ["netns", "add", probe], { encoding: "utf8" });
  if (made.status !== 0) return `ip netns add failed: ${made.stderr.trim()}`;
  spawnSync(IP, ["netns", "del", probe]);
  return undefined;
}

export interface NetworkHost {
  /** The namespace's name (`ip netns exec NAME ...`). */
  namespace: string;
  address: string;
  /** The command that runs the rest of its arguments inside the namespace. */
  inside: string[];
}

export interface HostNetwork {
  /** The root namespace's address on the bridge: what the hosts reach the test's services at. */
  gateway: string;
  /** The /24, for pg_hba.conf. */
  cidr: string;
  hosts: NetworkHost[];
  /** Removes the namespaces and the bridge (their veths go with them); safe to call twice. */
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync(IP ?? "ip", args, { stdio: ["ignore", "ignore", "pipe"] });
const prefixOf = (pid: number) => `trk${pid}`;

/**
 * `count` hosts on a /24 of 10.0.0.0/8 that no interface here uses yet,
 * named after this process (interface names stay within Linux's 15
 * characters). Namespaces left by a process of this suite that died are
 * removed first; ours are removed at exit whatever happens.
 */
export function createHostNetwork(count: number): HostNetwork {
  removeLeftovers();
  const prefix = prefixOf(process.pid);
  const used = execFileSync(IP ?? "ip", ["-4", "-o", "addr"], { encoding: "utf8" });
  let subnet = "";
  for (let attempt = 0; attempt < 50 && !subnet; attempt++) {
    const candidate = `10.${randomInt(100, 250)}.${randomInt(1, 250)}`;
    if (!used.includes(` ${candidate}.`)) subnet = candidate;
  }
  if (!subnet) throw new Error("no free /24 in 10.0.0.0/8");
  const bridge = `${prefix}br`;
  const hosts: NetworkHost[] = Array.from({ length: count }, (_, i) => ({
    namespace: `${prefix}-h${i + 1}`,
    address: `${subnet}.${11 + i}`,
    inside: [IP ?? "ip", "netns", "exec", `${prefix}-h${i + 1}`],
  }));
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    process.removeListener("exit", destroy);
    for (const host of hosts) spawnSync(IP ?? "ip", ["netns", "del", host.namespace]);
    spawnSync(IP ?? "ip", ["link", "del", bridge]);
  };
  process.once("exit", destroy);
  try {
    ip("link", "add", bridge, "type", "bridge");
    ip("addr", "add", `${subnet}.1/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
    for (const [i, host] of hosts.entries()) {
      const outside = `${prefix}v${i + 1}`;
      ip("netns", "add", host.namespace);
      ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", host.namespace);
      ip("link", "set", outside, "master", bridge, "up");
      ip("-n", host.namespace, "addr", "add", `${host.address}/24`, "dev", "eth0");
      ip("-n", host.namespace, "link", "set", "eth0", "up");
      ip("-n", host.namespace, "link", "set", "lo", "up");
    }
  } catch (error) {
    destroy();
    throw error;
  }
  return { gateway: `${subnet}.1`, cidr: `${subnet}.0/24`, hosts, destroy };
}

/** Namespaces and bridges named after a process of this suite that no longer runs. */
function removeLeftovers() {
  const names = spawnSync(IP ?? "ip", ["netns", "list"], { encoding: "utf8" }).stdout;
  const links = spawnSync(IP ?? "ip", ["-o", "link"], { encoding: "utf8" }).stdout;
  const pids = new Set<number>();
  for (const match of `${names}\n${links}`.matchAll(/\btrk(\d+)(?:-h\d+|br)\b/g)) pids.add(Number(match[1]));
  for (const pid of pids) {
    if (pid === process.pid || alive(pid)) continue;
    for (const match of names.matchAll(new RegExp(`\\b${prefixOf(pid)}-h\\d+\\b`, "g")))
      spawnSync(IP ?? "ip", ["netns", "del", match[0]]);
    spawnSync(IP ?? "ip", ["link", "del", `${prefixOf(pid)}br`]);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}
