/**
 * End-to-end latency at a steady 1,000 msg/s: messages published to a
 * durable classic queue on one connection and consumed (prefetch 1, manual
 * ack) on another; latency is from the publish call to the handler call, in
 * milliseconds. Three sides run in the same process run, rotating which goes
 * first each round:
 *
 * - warren publish + consume (its defaults: TCP_NODELAY, confirms, the
 *   consumer runtime), the candidate, held to the targets of docs/architecture.md#connections;
 * - raw amqplib with its defaults (Nagle on both connections);
 * - raw amqplib with TCP_NODELAY on both connections (the baseline of the
 *   issue #10 target: warren's p50 no higher than this in the same run);
 * - rabbitmq-client with TCP_NODELAY, its publisher confirming (not awaited).
 *
 * The raw publishers use a confirm channel without awaiting confirms, the
 * raw consumer acks in its callback, then parses the body to find the index.
 *
 * Run on its own with `node bench/latency.ts [rounds]`, or through run.ts.
 */
import { randomBytes } from "node:crypto";
import { connect as amqpConnect } from "amqplib";
import { Connection as RabbitConnection } from "rabbitmq-client";
import { connect } from "../src/client.ts";
import { type BenchContext, median, scaled } from "./scenario.ts";
import { topologyFor } from "./systems.ts";

export const latencyBenchDefaults = Object.freeze({
  /** Messages per run. */
  messages: 3_000,
  /** Publish rate, msg/s. */
  rate: 1_000,
});

/** What warren's publish + consume must stay under at 1,000 msg/s, in milliseconds. */
export const latencyTargets = Object.freeze({ p50Ms: 0.5, p99Ms: 5 });

/** Latency percentiles of one run, in milliseconds. */
export interface LatencyResult {
  label: string;
  p50: number;
  p99: number;
  max: number;
}

/** One side of the latency table. */
interface LatencyScenario {
  label: string;
  /** True for warren's row, which is held to {@link latencyTargets}. */
  candidate: boolean;
  run(context: BenchContext): Promise<LatencyResult>;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Calls `publish(i)` `count` times at `perSecond`, catching up after timer lag. */
async function paced(count: number, perSecond: number, publish: (i: number) => void) {
  const started = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) * perSecond) / 1000) + 1);
    while (sent < due) publish(sent++);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function collectLatencies(
  label: string,
  count: number,
  start: (onMessage: (i: number) => void) => Promise<(i: number) => void>,
): Promise<LatencyResult> {
  const sentAt = new Float64Array(count);
  const latencies: number[] = [];
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const publish = await start((i) => {
    latencies.push(performance.now() - (sentAt[i] as number));
    if (latencies.length === count) resolve();
  });
  await paced(count, latencyBenchDefaults.rate, (i) => {
    sentAt[i] = performance.now();
    publish(i);
  });
  await done;
  latencies.sort((a, b) => a - b);
  return {
    label,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? 0,
  };
}

const indexedBody = (i: number) => Buffer.from(JSON.stringify({ i, data: "x".repeat(64) }));

function rawLatency(noDelay: boolean): LatencyScenario {
  const label = noDelay ? "amqplib, TCP_NODELAY" : "amqplib defaults (Nagle on)";
  return {
    label,
    candidate: false,
    async run(context) {
      const publisherModel = await amqpConnect(context.url, { noDelay });
      const consumerModel = await amqpConnect(context.url, { noDelay });
      const queue = context.queueName();
      try {
        const pub = await publisherModel.createConfirmChannel();
        await pub.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
        const sub = await consumerModel.createChannel();
        await sub.prefetch(1);
        return await collectLatencies(
          label,
          scaled(context, latencyBenchDefaults.messages),
          async (onMessage) => {
            await sub.consume(queue, (message) => {
              if (message === null) return;
              sub.ack(message);
              onMessage((JSON.parse(message.content.toString()) as { i: number }).i);
            });
            return (i) => {
              pub.sendToQueue(queue, indexedBody(i), { persistent: true });
            };
          },
        );
      } finally {
        const admin = await publisherModel.createChannel();
        await admin.deleteQueue(queue);
        await Promise.all([publisherModel.close(), consumerModel.close()]);
      }
    },
  };
}

const warrenLatency: LatencyScenario = {
  label: "warren publish + consume",
  candidate: true,
  async run(context) {
    const queue = context.queueName();
    const admin = await amqpConnect(context.url);
    const channel = await admin.createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
    const warren = await connect({
      url: context.url,
      topology: topologyFor(queue),
      serviceName: "bench",
    });
    try {
      return await collectLatencies(
        "warren publish + consume",
        scaled(context, latencyBenchDefaults.messages),
        async (onMessage) => {
          await warren.consume<{ i: number }>(queue, (message) => onMessage(message.i));
          return (i) => {
            void warren.publish(queue, { i, data: "x".repeat(64) });
          };
        },
      );
    } finally {
      await warren.close();
      await channel.deleteQueue(queue);
      await admin.close();
    }
  },
};

/** rabbitmq-client with TCP_NODELAY: a confirming publisher (not awaited) and a consumer at prefetch 1. */
const rabbitmqClientLatency: LatencyScenario = {
  label: "rabbitmq-client, TCP_NODELAY",
  candidate: false,
  async run(context) {
    const queue = context.queueName();
    const admin = await amqpConnect(context.url);
    const channel = await admin.createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
    const rabbit = new RabbitConnection({ url: context.url, noDelay: true });
    const publisher = rabbit.createPublisher({ confirm: true });
    let consumer: { close(): Promise<void> } | undefined;
    try {
      return await collectLatencies(
        "rabbitmq-client, TCP_NODELAY",
        scaled(context, latencyBenchDefaults.messages),
        async (onMessage) => {
          consumer = rabbit.createConsumer(
            { queue, queueOptions: { passive: true }, qos: { prefetchCount: 1 } },
            async (message) => onMessage((message.body as { i: number }).i),
          );
          await rabbit.onConnect();
          return (i) => {
            void publisher.send({ routingKey: queue, durable: true }, { i, data: "x".repeat(64) });
          };
        },
      );
    } finally {
      await consumer?.close();
      await publisher.close();
      await rabbit.close();
      await channel.deleteQueue(queue);
      await admin.close();
    }
  },
};

const latencyScenarios: readonly LatencyScenario[] = [
  warrenLatency,
  rawLatency(true),
  rabbitmqClientLatency,
  rawLatency(false),
];

/** Median percentiles of one side over the rounds, and whether it is warren's. */
export interface LatencyRow {
  label: string;
  candidate: boolean;
  /** Median over the rounds of each run's p50, in milliseconds. */
  p50: number;
  /** Median over the rounds of each run's p99, in milliseconds. */
  p99: number;
  /** Largest latency seen in any round, in milliseconds. */
  max: number;
  runs: number;
}

/**
 * Runs every side `rounds` times after one unmeasured warm-up run each,
 * rotating which side goes first, and returns the medians.
 */
export async function measureLatency(
  context: BenchContext,
  rounds: number,
  log: (line: string) => void = () => {},
): Promise<LatencyRow[]> {
  for (const scenario of latencyScenarios) await scenario.run(context);
  const results = latencyScenarios.map((): LatencyResult[] => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < latencyScenarios.length; k++) {
      const index = (round + k) % latencyScenarios.length;
      const result = await (latencyScenarios[index] as LatencyScenario).run(context);
      results[index]?.push(result);
      log(
        `latency #${round + 1} ${result.label}: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, max ${result.max.toFixed(2)} ms`,
      );
    }
  }
  return latencyScenarios.map((scenario, index) => {
    const runs = results[index] ?? [];
    return {
      label: scenario.label,
      candidate: scenario.candidate,
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      max: Math.max(...runs.map((r) => r.max)),
      runs: runs.length,
    };
  });
}

const verdict = (value: number, limit: number) =>
  `${value <= limit ? "met" : "**not met**"} (≤ ${limit} ms)`;

/** Formats latency rows as a markdown table, with warren's targets. */
export function formatLatency(rows: readonly LatencyRow[]): string {
  const lines = [
    "| at 1,000 msg/s | p50 (ms) | p99 (ms) | max (ms) | p50 target | p99 target | runs |",
    "|---|---:|---:|---:|---|---|---:|",
  ];
  // Issue #10: warren's p50 no higher than raw amqplib with TCP_NODELAY in the same run.
  const noDelayP50 = rows.find((r) => r.label === "amqplib, TCP_NODELAY")?.p50;
  const p50Limit = noDelayP50 ?? latencyTargets.p50Ms;
  for (const r of rows) {
    const p50Target = r.candidate ? verdict(r.p50, Number(p50Limit.toFixed(2))) : "—";
    const p99Target = r.candidate ? verdict(r.p99, latencyTargets.p99Ms) : "—";
    lines.push(
      `| ${r.label} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} | ${p50Target} | ${p99Target} | ${r.runs} |`,
    );
  }
  return lines.join("\n");
}

// `node bench/latency.ts [rounds]`: the latency table alone, against
// RABBITMQ_URL (default amqp://guest:guest@localhost:5672).
if (import.meta.main) {
  const runId = randomBytes(3).toString("hex");
  let counter = 0;
  const context: BenchContext = {
    url: process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672",
    queueName: () => `bench-latency-${runId}-${++counter}`,
    scale: 1,
    databaseUrl: undefined,
  };
  const rows = await measureLatency(context, Number(process.argv[2] ?? 3), console.log);
  console.log(formatLatency(rows));
}
