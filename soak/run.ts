import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatReport, runSoak } from "./soak.js";

// npm run soak -- --minutes N [--faults] [--clients C] [--seed S] [--json file]
// A bounded soak on loopback: its own PostgreSQL, the real server as a child
// process, many clients over all four protocols, a ledger of every
// acknowledged write checked against the database at the end. Exits 1 on
// any violation. See RELIABILITY.md.

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "1" },
    seconds: { type: "string" },
    faults: { type: "boolean", default: false },
    clients: { type: "string", default: "16" },
    seed: { type: "string" },
    json: { type: "string" },
  },
});
const durationMs = values.seconds ? Number(values.seconds) * 1000 : Number(values.minutes) * 60_000;
const clients = Number(values.clients);
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!(durationMs > 0) || !(clients > 0) || !Number.isInteger(seed)) {
  console.error("usage: npm run soak -- --minutes N [--faults] [--clients C] [--seed S] [--json file]");
  process.exit(2);
}

const interrupted = new AbortController();
// Ctrl-C ends the load early; the checks still run and the processes stop.
process.once("SIGINT", () => interrupted.abort());
process.once("SIGTERM", () => interrupted.abort());
const report = await runSoak({
  durationMs,
  faults: values.faults ?? false,
  clients,
  seed,
  signal: interrupted.signal,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`\n${formatReport(report)}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
