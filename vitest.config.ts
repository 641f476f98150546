import { defineConfig } from "vitest/config";

// Tiers (docs/testing.md): unit tests need nothing; integration tests share one
// broker that test/support/global-setup.ts finds or starts once per run.
// The reliability suite (`npm run test:reliability`, not part of `npm test`)
// has the projects `reliability` (faults on the one broker of the global
// setup, files in parallel) and `cluster` (one file,
// test/reliability/cluster/cluster.test.ts, that starts a three-node cluster
// once and runs the cluster scenarios on it one after another). In one
// vitest run the `cluster` project (maxWorkers 1) starts only after the
// others; .ci/run starts the two as separate runs, side by side.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Type-level tests (`*.test-d.ts`) are compiled, not run: vitest's
          // typecheck mode runs tsc on them and reports each failing assertion
          // or unused `@ts-expect-error` as a failed test. Its tsconfig holds
          // only those files (and what they import): the full project is
          // already compiled by `npm run typecheck`.
          typecheck: {
            enabled: true,
            include: ["test/unit/**/*.test-d.ts"],
            tsconfig: "tsconfig.type-tests.json",
          },
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          exclude: ["test/reliability/cluster/**"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: "cluster",
          include: ["test/reliability/cluster/**/*.test.ts"],
          testTimeout: 300_000,
          // Forming the cluster takes 90-150 s when the machine is busy.
          hookTimeout: 600_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
      {
        // Minutes-long end-to-end runs (the demo, a broker outage), kept out
        // of `npm test`: `npm run test:slow`, which CI runs after it.
        extends: true,
        test: {
          name: "slow",
          include: ["test/slow/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
        },
      },
    ],
  },
});
