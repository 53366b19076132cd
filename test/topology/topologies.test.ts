import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDevKey } from "../../src/auth/dev-issuer.js";
import { applyMigrations } from "../../src/db/atlas.js";
import type { EmbeddedDatabase } from "../../src/db/embedded-postgres.js";
import { createHostNetwork, type HostNetwork, hostNetworkUnavailable } from "../support/netns.js";
import { NGINX, type Nginx, startNginx } from "../support/nginx.js";
import { PGBOUNCER, type PgBouncer, startPgBouncer } from "../support/pgbouncer.js";
import { type Replication, replicationUnavailable, startPrimaryAndStandby } from "../support/replication.js";
import {
  crashPrimaryAndPromote,
  exposeSynchronously,
  GRPCURL,
  grpcurlCalls,
  killBusiestHost,
  onAddress,
  query,
  runLoad,
  startReachablePostgres,
  startTrackerHosts,
  stopTrackerHosts,
  type TopologyResult,
  type TrackerHost,
  versionsServed,
  writeReport,
} from "./harness.js";

// Production topologies, for real: tracker hosts each in a network namespace
// of their own, behind nginx running the shipped deploy/nginx/tracker.conf,
// on PostgreSQL through PgBouncer (session and transaction mode), under the
// soak's load on all four protocols while a host is killed; the soak's
// ledger then holds the database to every acknowledged write and every
// watcher to every event. Then the same behind a synchronous streaming
// standby that is promoted mid-load. DEPLOYMENT.md ("Behind nginx",
// "Several hosts", "Failover with a streaming standby") points here. Needs root, iproute2, nginx, PgBouncer and grpcurl: skipped
// with the reason where one is missing (.ci/run installs them).

const missing =
  hostNetworkUnavailable() ??
  (!NGINX ? "nginx is not installed (apt-get install nginx)" : undefined) ??
  (!PGBOUNCER ? "pgbouncer is not installed (apt-get install pgbouncer)" : undefined) ??
  (!existsSync(GRPCURL) ? "grpcurl is not built (node tools/install.mjs grpcurl)" : undefined);

const LOAD_MS = 20_000;
const FAULT_AT_MS = 8_000;
const results: TopologyResult[] = [];
const began = Date.now();
const clock = () => Date.now() - began;
const log = (line: string) => process.stderr.write(`[topology] ${line}\n`);

const issuesOn = async (replication: Replication) =>
  Number(
    (await replication.standby.query<{ n: string }>("SELECT count(*) AS n FROM issues", "tracker"))[0]?.n,
  );

// The reason is in the name: vitest shows a skipped block's name, not why.
describe.skipIf(missing)(`production topologies${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let network: HostNetwork;
  let scratch: string;
  let dataDir: string;
  let database: EmbeddedDatabase;

  beforeAll(async () => {
    network = createHostNetwork(2);
    scratch = mkdtempSync(join(tmpdir(), "tracker-topology-"));
    // PostgreSQL runs as "postgres" under root and must enter this directory.
    chmodSync(scratch, 0o711);
    dataDir = join(scratch, "hosts");
    mkdirSync(dataDir);
    await loadDevKey(dataDir);
    database = await startReachablePostgres(join(scratch, "postgres"), network);
  }, 120_000);

  afterAll(async () => {
    await database?.stop();
    network?.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (results.length > 0) process.stdout.write(`\n${writeReport(results)}\n`);
  });

  for (const mode of ["session", "transaction"] as const) {
    it(`nginx, two hosts, PgBouncer in ${mode} mode: a host killed mid-load loses and doubles nothing`, async () => {
      const name = `topology_${mode}`;
      await database.createDatabase(name);
      const direct = database.urlFor(name);
      await applyMigrations(direct);
      if (mode === "transaction") {
        // What DEPLOYMENT.md has operators run for transaction mode.
        await query(direct, `ALTER ROLE CURRENT_USER IN DATABASE "${name}" SET statement_timeout = 15000`);
        await query(direct, `ALTER ROLE CURRENT_USER IN DATABASE "${name}" SET TimeZone = 'UTC'`);
      }
      const stops: Array<() => Promise<void>> = [];
      try {
        // Session mode holds a server connection per client connection: 2 hosts x DATABASE_POOL_MAX 5.
        const bouncer: PgBouncer = await startPgBouncer(database.adminUrl, {
          mode,
          poolSize: mode === "session" ? 12 : 4,
          listenAddress: network.gateway,
        });
        stops.unshift(() => bouncer.stop());
        const hosts: TrackerHost[] = await startTrackerHosts(
          network,
          dataDir,
          {
            DATABASE_URL: bouncer.urlFor(name),
            DATABASE_POOLER: mode,
            // LISTEN and Atlas straight to PostgreSQL, at the address the hosts reach it on.
            DATABASE_DIRECT_URL: onAddress(direct, network.gateway),
          },
          clock,
          log,
        );
        stops.unshift(() => stopTrackerHosts(hosts));
        const nginx: Nginx = await startNginx(hosts.map((host) => `${host.address}:8080`));
        stops.unshift(() => nginx.stop());

        // nginx 1.22 cannot serve HTTP/1.1 and h2c on one cleartext port: each of the two speaks one.
        expect(await versionsServed(nginx.httpUrl)).toEqual({ http1: true, h2c: false });
        expect(await versionsServed(nginx.grpcUrl)).toEqual({ http1: false, h2c: true });
        const grpcurl = await grpcurlCalls(nginx, dataDir);
        expect(grpcurl.services).toContain("tracker.v1.IssueService");
        expect(grpcurl.user).toMatch(/"name": "users\//);

        const result = await runLoad({
          topology: `nginx + 2 hosts + PgBouncer (${mode})`,
          description:
            `nginx ${"1.22"} with deploy/nginx/tracker.conf in front of two tracker hosts, each in its own network ` +
            `namespace (${hosts.map((host) => host.address).join(", ")}), on PostgreSQL through PgBouncer in ` +
            `${mode} mode (LISTEN and migrations direct). One real gRPC call by grpcurl before the load.`,
          nginx,
          hosts,
          databaseUrl: direct,
          dataDir,
          durationMs: LOAD_MS,
          faultAtMs: FAULT_AT_MS,
          fault: killBusiestHost,
          log,
          clock,
        });
        result.callsByProtocol.grpcurl = 2;
        results.push(result);
        const text = JSON.stringify(result, null, 2);

        expect(result.acknowledged.total, text).toBeGreaterThan(30);
        expect(result, text).toMatchObject({ lost: 0, duplicated: 0, inconsistent: 0 });
        for (const protocol of [
          "Connect JSON over HTTP/1.1",
          "Connect binary over HTTP/2",
          "gRPC over HTTP/2",
          "gRPC-Web over HTTP/1.1",
        ])
          expect(result.callsByProtocol[protocol], `${protocol}\n${text}`).toBeGreaterThan(20);
        for (const watcher of result.watchers) {
          expect(watcher, text).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0, caughtUp: true });
          expect(watcher.delivered, text).toBeGreaterThan(0);
        }
        // The killed host's watchers came back on the other one and went on from their last event.
        const moved = result.watchers.filter((watcher) => watcher.hosts.includes(result.downed ?? ""));
        expect(moved.length, text).toBeGreaterThan(0);
        for (const watcher of moved) {
          const after = watcher.hosts.slice(watcher.hosts.indexOf(result.downed ?? "") + 1);
          expect(after.length, `${watcher.name}\n${text}`).toBeGreaterThan(0);
          expect(after.every((host) => host !== result.downed)).toBe(true);
        }
        // tracker records the address it was called from: nginx's, not the client's.
        expect(result.clientAddresses).toEqual([network.gateway]);
      } finally {
        for (const stop of stops) await stop().catch((error: unknown) => log(`cleanup: ${String(error)}`));
      }
    }, 240_000);
  }
  it.skipIf(replicationUnavailable)(
    `nginx, two hosts, a synchronous standby promoted mid-load: nothing acknowledged is lost${replicationUnavailable ? ` (skipped: ${replicationUnavailable})` : ""}`,
    async () => {
      const stops: Array<() => Promise<void>> = [];
      try {
        const replication: Replication = await startPrimaryAndStandby();
        stops.unshift(() => replication.stop());
        await exposeSynchronously(replication, network);
        await replication.primary.query('CREATE DATABASE "tracker"');
        await applyMigrations(replication.primary.urlFor("tracker"));
        await replication.waitForReplay();
        // Both hosts in one URL; a new connection takes the one that takes writes.
        const both =
          `postgres://postgres@${network.gateway}:${replication.primary.port},` +
          `${network.gateway}:${replication.standby.port}/tracker?target_session_attrs=read-write`;
        const hosts = await startTrackerHosts(network, dataDir, { DATABASE_URL: both }, clock, log);
        stops.unshift(() => stopTrackerHosts(hosts));
        const nginx = await startNginx(hosts.map((host) => `${host.address}:8080`));
        stops.unshift(() => nginx.stop());

        let issuesAtPromotion = 0;
        const result = await runLoad({
          topology: "nginx + 2 hosts + primary and synchronous standby, promoted",
          description:
            "The same nginx and hosts, on a PostgreSQL 15 primary with a streaming standby " +
            "(synchronous_standby_names = '*'), DATABASE_URL naming both with target_session_attrs=read-write. " +
            "Mid-load the primary crashes and the standby is promoted.",
          nginx,
          hosts,
          // The promoted standby: the database from now on.
          databaseUrl: replication.standby.urlFor("tracker"),
          dataDir,
          durationMs: LOAD_MS,
          faultAtMs: FAULT_AT_MS,
          fault: async (context) => {
            const outcome = await crashPrimaryAndPromote(replication)(context);
            issuesAtPromotion = await issuesOn(replication);
            return outcome;
          },
          log,
          clock,
        });
        results.push(result);
        const text = JSON.stringify(result, null, 2);

        expect(result.acknowledged.total, text).toBeGreaterThan(30);
        expect(result, text).toMatchObject({ lost: 0, duplicated: 0, inconsistent: 0 });
        // The promotion window was felt, and ridden out by retries with the same request_id.
        expect(
          Object.keys(result.errors).some((code) => code.startsWith("UNAVAILABLE")),
          text,
        ).toBe(true);
        expect(result.retries, text).toBeGreaterThan(0);
        // Writes went on after the promotion, on the new primary.
        expect(await issuesOn(replication), text).toBeGreaterThan(issuesAtPromotion);
        for (const watcher of result.watchers) {
          expect(watcher, text).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0, caughtUp: true });
          expect(watcher.delivered, text).toBeGreaterThan(0);
        }
      } finally {
        for (const stop of stops) await stop().catch((error: unknown) => log(`cleanup: ${String(error)}`));
      }
    },
    240_000,
  );
});
