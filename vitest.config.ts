import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The JSON report is what .ci/run counts; people read the default one.
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
    projects: [
      {
        // Rules, mapping and layering, with nothing but the code: no
        // database, no server (`npx vitest run --project unit`, seconds).
        test: { name: "unit", include: ["test/unit/**/*.test.ts"] },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: ["test/unit/**", "test/topology/**"],
          globalSetup: ["test/support/global-setup.ts"],
          // Every test file gets its own database and server, so files run in
          // parallel; real databases and processes need generous hook timeouts.
          testTimeout: 30_000,
          hookTimeout: 120_000,
          pool: "forks",
        },
      },
      {
        // Production topologies (npm run topology): hosts in network
        // namespaces behind nginx, PgBouncer, a streaming standby. Each test
        // starts its own processes; they run one after another.
        test: {
          name: "topology",
          include: ["test/topology/**/*.test.ts"],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          pool: "forks",
        },
      },
    ],
  },
});
