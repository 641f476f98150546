/**
 * Runs one side of one comparison in this (fresh) process and prints its
 * measurement as one JSON line, so that no run inherits another's JIT
 * state, heap or open sockets. run.ts spawns it for every measurement:
 *
 *   node bench/measure-one.ts <comparison name> <candidate|baseline> <json context>
 *
 * where the context is `{ url, queueName, scale, databaseUrl }`.
 */
import { comparisons } from "./comparisons.ts";
import type { BenchContext } from "./scenario.ts";

const [name, side, json] = process.argv.slice(2);
const comparison = comparisons.find((c) => c.name === name);
if (comparison === undefined || (side !== "candidate" && side !== "baseline") || !json) {
  throw new Error(`usage: measure-one.ts <comparison name> <candidate|baseline> <json context>`);
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
const measurement = await comparison[side].run(context);
process.stdout.write(`${JSON.stringify(measurement)}\n`);
// Peers may keep timers (reconnect loops) alive after close.
process.exit(0);
