import { readFileSync, writeFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";

/**
 * Where a server process's RSS goes, for reading the bench's peak-RSS figure:
 * preloaded into every tracker process with
 *   npm run bench -- --only "listissues first" --server-node-options="--import ./dist/bench/memory-breakdown.js"
 * it writes bench/results/memory-<pid>.json each time RSS reaches a new high
 * (5 MiB above the last): V8's heap by space, the memory V8 reports outside
 * it, and /proc/self/smaps' resident memory by mapping (the node binary, the
 * main-thread malloc heap `[heap]`, anonymous memory, which holds V8's heap,
 * the other threads' malloc arenas and the stacks). Bench only, never loaded
 * in production.
 */
const MiB = 1024 * 1024;
const target = `bench/results/memory-${process.pid}.json`;
let highest = 0;

function residentByMapping(): Record<string, number> {
  const kib: Record<string, number> = {};
  let mapping = "";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      mapping = header[1] || "[anon]";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kib[mapping] = (kib[mapping] ?? 0) + Number(rss[1]);
  }
  return Object.fromEntries(
    Object.entries(kib)
      .filter(([, size]) => size >= 1024)
      .map(([name, size]) => [name, Math.round(size / 1024)]),
  );
}

setInterval(() => {
  const usage = process.memoryUsage();
  if (usage.rss < highest + 5 * MiB) return;
  highest = usage.rss;
  const inMiB = (bytes: number) => Math.round(bytes / MiB);
  const breakdown = {
    rssMiB: inMiB(usage.rss),
    v8HeapTotalMiB: inMiB(usage.heapTotal),
    v8HeapUsedMiB: inMiB(usage.heapUsed),
    externalMiB: inMiB(usage.external),
    arrayBuffersMiB: inMiB(usage.arrayBuffers),
    v8SpacesMiB: Object.fromEntries(
      getHeapSpaceStatistics()
        .filter((space) => space.space_size > 0)
        .map((space) => [space.space_name, inMiB(space.space_size)]),
    ),
    residentByMappingMiB: residentByMapping(),
  };
  writeFileSync(target, `${JSON.stringify(breakdown, null, 2)}\n`);
}, 250).unref();
