import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Every test file gets its own database and server, so files run in
    // parallel; real databases and processes need generous hook timeouts.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The JSON report is what .ci/run counts; people read the default one.
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
