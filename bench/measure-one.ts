/**
 * Runs one side of one comparison in this (fresh) process and prints its
 * measurement as one JSON line, so that no run inherits another's JIT
 * state, heap or open sockets. run.ts spawns it for every measurement:
 *
 *   node bench/measure-one.ts <comparison name> <candidate|baseline> <json context>
 *   node bench/measure-one.ts <scenario name> single <json context>
 *
 * where the context is `{ url, queueName, scale, databaseUrl }`.
 */
import { comparisons, singleScenarios } from "./comparisons.ts";
import type { BenchContext, Scenario } from "./scenario.ts";

const [name, side, json] = process.argv.slice(2);
let scenario: Scenario | undefined;
if (side === "single") scenario = singleScenarios.get(name ?? "");
else if (side === "candidate" || side === "baseline") {
  scenario = comparisons.find((c) => c.name === name)?.[side];
}
if (scenario === undefined || !json) {
  throw new Error(
    "usage: measure-one.ts <comparison name> <candidate|baseline> <json context>, or <scenario name> single <json context>",
  );
}
const settings = JSON.parse(json) as {
  url: string;
  queueName: string;
  scale: number;
  databaseUrl?: string;
};
let counter = 0;
const context: BenchContext = {
  url: settings.url,
  queueName: () => `${settings.queueName}-${++counter}`,
  scale: settings.scale,
  databaseUrl: settings.databaseUrl,
};
const measurement = await scenario.run(context);
process.stdout.write(`${JSON.stringify(measurement)}\n`);
// Peers may keep timers (reconnect loops) alive after close.
process.exit(0);
