import { defineConfig } from "vitest/config";

// Three tiers (docs/testing.md): unit tests need nothing; integration and
// reliability tests share one broker that test/support/global-setup.ts finds
// or starts once per run.
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
          include: ["test/integration/**/*.test.ts", "test/reliability/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
        },
      },
    ],
  },
});
