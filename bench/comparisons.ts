/**
 * Every comparison `npm run bench` knows, in the order it runs them, and
 * the single scenarios of the other sections (consumer concurrency, RSS).
 * run.ts reads the lists to plan a run; measure-one.ts reads them to run one
 * side of one comparison, or one scenario, in a fresh process.
 */
import { concurrencyBenchDefaults, concurrencyScenario } from "./consume.ts";
import { idempotencyComparisons } from "./idempotency.ts";
import { peerComparisons } from "./peers.ts";
import { publishComparisons } from "./publish.ts";
import { rssScenario } from "./rss.ts";
import type { Comparison, Scenario } from "./scenario.ts";

export const comparisons: Comparison[] = [
  ...peerComparisons,
  ...publishComparisons,
  ...idempotencyComparisons,
];

/** Scenarios measured on their own, by name. */
export const singleScenarios: ReadonlyMap<string, Scenario> = new Map<string, Scenario>([
  ...concurrencyBenchDefaults.levels.map(
    (level) => [`concurrency ${level}`, concurrencyScenario(level)] as const,
  ),
  ["rss", rssScenario],
]);
