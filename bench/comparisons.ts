/**
 * Every comparison `npm run bench` knows, in the order it runs them. run.ts
 * reads the list to plan a run; measure-one.ts reads it to run one side of
 * one comparison in a fresh process.
 */
import { consumeComparisons } from "./consume.ts";
import { idempotencyComparisons } from "./idempotency.ts";
import { peerComparisons } from "./peers.ts";
import { publishComparisons } from "./publish.ts";
import type { Comparison } from "./scenario.ts";

export const comparisons: Comparison[] = [
  ...peerComparisons,
  ...publishComparisons,
  ...consumeComparisons,
  ...idempotencyComparisons,
];
