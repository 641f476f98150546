/**
 * Publish and consume throughput of a partitioned queue
 * (docs/topology.md#partitioned-queues) for N = 1, 2 and 4 partitions, in
 * one run. Each measurement runs in a fresh process (as measure-one.ts does
 * for the comparisons), on a fresh partitioned quorum queue `partitions: N`
 * behind a topic exchange:
 *
 * - publish: `--messages` JSON messages (~100 B, persistent, 1,000 distinct
 *   routing keys, so the hash spreads them) through `warren.publish` from
 *   500 concurrent loops of awaited publishes; msg/s until the last confirm;
 * - consume: the same messages drained by one `consume(Q)` (one lane per
 *   partition) with a no-op handler at prefetch 50; msg/s from the first
 *   subscribe to the last ack.
 *
 * The order of N rotates each round so that drifts of the shared machine hit
 * every N alike; figures are medians over the rounds.
 *
 *   node bench/partitions.ts [--rounds 3] [--messages 20000] [--no-write]
 *
 * Broker: RABBITMQ_URL (with RABBITMQ_MANAGEMENT_URL; the
 * rabbitmq_consistent_hash_exchange plugin enabled), else found or started
 * as by the tests. Writes its table into docs/performance.md between the
 * `partitions-bench` markers (bench/run.ts keeps that block).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connect as amqpConnect } from "amqplib";
import { pino } from "pino";
import { connect } from "../src/client.ts";
import { findOrStartBroker } from "../src/testing/broker.ts";
import { applyTopology } from "../src/topology/apply.ts";
import { compileTopology } from "../src/topology/compile.ts";
import { resolveTopology } from "../src/topology/load.ts";
import { median } from "./scenario.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    messages: { type: "string", default: "20000" },
    "no-write": { type: "boolean", default: false },
    // Internal: one measurement in this process (see measureOne).
    one: { type: "string" },
    url: { type: "string" },
    "management-url": { type: "string" },
  },
});
const messages = Number(values.messages);
const PARTITIONS = [1, 2, 4] as const;

interface Measurement {
  publish: number;
  consume: number;
}

/** One measurement, in a fresh process: prints one JSON line. */
async function measureOne(partitions: number, url: string, managementUrl: string): Promise<void> {
  const name = `bench-partitions-${randomBytes(4).toString("hex")}`;
  const topology = compileTopology(
    resolveTopology({
      exchanges: { [name]: { type: "topic" } },
      queues: { [name]: { partitions, bindings: [{ exchange: name, routingKey: "#" }] } },
    }),
  );
  await applyTopology(topology, { url, managementUrl });
  const warren = await connect({
    url,
    topology,
    publishExchange: name,
    logger: pino({ level: "silent" }),
  });
  try {
    const body = { orderId: "o-0000000000", payload: "x".repeat(64) };
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 500 }, async () => {
        for (let i = next++; i < messages; i = next++) {
          await warren.publish(`order.k${i % 1000}`, body);
        }
      }),
    );
    const publish = messages / ((performance.now() - started) / 1000);

    let handled = 0;
    const drained = Promise.withResolvers<void>();
    const consumeStarted = performance.now();
    const consumer = await warren.consume(
      name,
      () => {
        handled++;
        if (handled === messages) drained.resolve();
      },
      { prefetch: 50, depthIntervalMs: 0 },
    );
    await drained.promise;
    const consume = messages / ((performance.now() - consumeStarted) / 1000);
    await consumer.close();
    process.stdout.write(`${JSON.stringify({ publish, consume })}\n`);
  } finally {
    await warren.close();
    // Remove what the run declared: its queues and exchanges.
    const model = await amqpConnect(url);
    const channel = await model.createChannel();
    for (const queue of topology.queues) await channel.deleteQueue(queue.name);
    for (const exchange of topology.exchanges) await channel.deleteExchange(exchange.name);
    await model.close();
  }
}

function spawnOne(partitions: number, url: string, managementUrl: string): Promise<Measurement> {
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      "--one",
      String(partitions),
      "--messages",
      String(messages),
      "--url",
      url,
      "--management-url",
      managementUrl,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`measurement with ${partitions} partitions exited ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Measurement);
    });
  });
}

if (values.one !== undefined) {
  await measureOne(Number(values.one), values.url!, values["management-url"]!);
  process.exit(0);
}

const rounds = Number(values.rounds);
const broker = await findOrStartBroker();
const results = new Map<number, Measurement[]>(PARTITIONS.map((n) => [n, []]));
const loadBefore = loadavg()[0]!;
try {
  for (let round = 0; round < rounds; round++) {
    const order = PARTITIONS.map((_, i) => PARTITIONS[(i + round) % PARTITIONS.length]!);
    for (const n of order) {
      const measurement = await spawnOne(n, broker.url, broker.managementUrl);
      results.get(n)!.push(measurement);
      console.log(
        `round ${round + 1}, ${n} partition${n === 1 ? "" : "s"}: publish ${Math.round(measurement.publish)} msg/s, consume ${Math.round(measurement.consume)} msg/s`,
      );
    }
  }
} finally {
  await broker.stop();
}
const loadAfter = loadavg()[0]!;

const base = median(results.get(1)!.map((m) => m.publish));
const baseConsume = median(results.get(1)!.map((m) => m.consume));
const rows = PARTITIONS.map((n) => {
  const list = results.get(n)!;
  const publish = median(list.map((m) => m.publish));
  const consume = median(list.map((m) => m.consume));
  const range = (values: number[]) =>
    `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`;
  return `| ${n} | ${Math.round(publish)} | ${range(list.map((m) => m.publish))} | ${(publish / base).toFixed(2)}× | ${Math.round(consume)} | ${range(list.map((m) => m.consume))} | ${(consume / baseConsume).toFixed(2)}× | ${list.length} |`;
});
const markdown = [
  `| partitions | publish (median msg/s) | range | vs 1 | consume (median msg/s) | range | vs 1 | runs |`,
  `|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ...rows,
].join("\n");
console.log(
  `\n${markdown}\n\nload average (1 min): ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
);

if (!values["no-write"]) {
  const path = new URL("../docs/performance.md", import.meta.url);
  const page = await readFile(path, "utf8");
  const block = `<!-- partitions-bench:start -->
## Partitioned queues

Measured by \`node bench/partitions.ts --rounds ${rounds} --messages ${messages}\`
(Node ${process.version}, ${availableParallelism()} CPUs, broker on the same
machine; 1-minute load average ${loadBefore.toFixed(1)} at the start and
${loadAfter.toFixed(1)} at the end, from other work sharing the machine). Each
row is a fresh partitioned quorum queue \`partitions: N\` behind a topic
exchange, in a fresh process: ${messages} messages of ~100 B over 1,000
routing keys published by 500 concurrent loops of awaited \`publish\`, then
drained by one \`consume\` (one lane per partition, prefetch 50, no-op
handler). The order of N rotates each round; figures are medians.

${markdown}

One queue is one Erlang process, so partitions let the broker use more than
one core for one logical queue (and, on a cluster, put partition leaders on
different nodes). On this 2-core machine, shared with the client and other
work, the gain stops where the cores are full: past that, more partitions
only add the hash exchange's and the extra queues' overhead.
<!-- partitions-bench:end -->`;
  const marked = /<!-- partitions-bench:start -->[\s\S]*<!-- partitions-bench:end -->/;
  await writeFile(
    path,
    marked.test(page) ? page.replace(marked, block) : `${page.trimEnd()}\n\n${block}\n`,
  );
  console.log("wrote the partitions table to docs/performance.md");
}
