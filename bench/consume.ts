/**
 * Consume scenarios: warren's consumer runtime against raw amqplib doing the
 * same work on the same broker.
 *
 * - Throughput (`consumeComparisons`, run by bench/run.ts): a durable classic
 *   queue pre-filled with small persistent JSON messages is drained by one
 *   consumer with a no-op handler, at prefetch 1 and at prefetch 50. The
 *   baseline is an amqplib channel whose consume callback acks at once (no
 *   parsing), on a connection with TCP_NODELAY like warren's, so the ratio is
 *   the runtime's own cost per message. The clock starts when the consumer
 *   receives its first message and stops at the last one.
 * - End-to-end latency (`measureConsumeLatency`, run by `node
 *   bench/consume.ts`): messages published at a steady 1,000 msg/s to a durable classic queue on one
 *   connection and consumed on another; latency is publish call to handler
 *   call, in milliseconds. Rows: amqplib with its defaults (Nagle on both
 *   connections), amqplib with TCP_NODELAY, and warren (publish + consume).
 */
import { randomBytes } from "node:crypto";
import { connect as amqpConnect, type ChannelModel } from "amqplib";
import { connect } from "../src/client.ts";
import type { CompiledTopology } from "../src/topology/model.ts";
import type { BenchContext, Comparison, Measurement, Scenario } from "./scenario.ts";

export const consumeBenchDefaults = Object.freeze({
  /** Messages per throughput run. */
  messages: 20_000,
  /** Messages per latency run (at `latencyRate`). */
  latencyMessages: 3_000,
  /** Publish rate of the latency runs, msg/s. */
  latencyRate: 1_000,
});

const body = Buffer.from(JSON.stringify({ id: 1, kind: "bench", data: "x".repeat(64) }));

/** A topology that knows one bare work queue (one attempt, no tiers). */
function topologyFor(queue: string): CompiledTopology {
  return {
    vhost: "/",
    exchanges: [],
    queues: [],
    bindings: [],
    retryPolicies: {
      [queue]: { queue, maxAttempts: 1, tiers: [], deadLetterQueue: `${queue}.dlq` },
    },
  };
}

/** Declares a classic queue, fills it with `messages`, runs `body`, deletes it. */
async function withFilledQueue<T>(
  context: BenchContext,
  messages: number,
  run: (queue: string) => Promise<T>,
): Promise<T> {
  const admin: ChannelModel = await amqpConnect(context.url);
  const channel = await admin.createConfirmChannel();
  const queue = context.queueName();
  await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
  for (let i = 0; i < messages; i++) {
    if (!channel.sendToQueue(queue, body, { persistent: true, contentType: "application/json" })) {
      await new Promise((resolve) => channel.once("drain", resolve));
    }
    if (i % 5_000 === 4_999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
  try {
    return await run(queue);
  } finally {
    await channel.deleteQueue(queue);
    await admin.close();
  }
}

/**
 * Times a drain from the first message to the last, so that connecting and
 * subscribing (which differ between the two sides) stay off the clock.
 */
function drainClock(messages: number): { tick: () => void; done: Promise<Measurement> } {
  const { promise, resolve } = Promise.withResolvers<Measurement>();
  let count = 0;
  let started = 0;
  return {
    tick: () => {
      count += 1;
      if (count === 1) started = performance.now();
      if (count === messages) {
        resolve({ messages: messages - 1, seconds: (performance.now() - started) / 1000 });
      }
    },
    done: promise,
  };
}

function warrenDrain(prefetch: number): Scenario {
  return {
    label: `warren consume (prefetch ${prefetch})`,
    run: (context) =>
      withFilledQueue(context, consumeBenchDefaults.messages, async (queue) => {
        const warren = await connect({
          url: context.url,
          topology: topologyFor(queue),
          serviceName: "bench",
        });
        try {
          const { messages } = consumeBenchDefaults;
          const clock = drainClock(messages);
          const consumer = await warren.consume(queue, clock.tick, { prefetch });
          const measurement = await clock.done;
          await consumer.close();
          return measurement;
        } finally {
          await warren.close();
        }
      }),
  };
}

function rawDrain(prefetch: number): Scenario {
  return {
    label: `amqplib consume (prefetch ${prefetch})`,
    run: (context) =>
      withFilledQueue(context, consumeBenchDefaults.messages, async (queue) => {
        const model = await amqpConnect(context.url, { noDelay: true });
        try {
          const channel = await model.createChannel();
          await channel.prefetch(prefetch);
          const { messages } = consumeBenchDefaults;
          const clock = drainClock(messages);
          await channel.consume(queue, (message) => {
            if (message === null) return;
            channel.ack(message);
            clock.tick();
          });
          return await clock.done;
        } finally {
          await model.close();
        }
      }),
  };
}

export const consumeComparisons: Comparison[] = [1, 50].map((prefetch) => ({
  name: `consume, prefetch ${prefetch}`,
  description: `${consumeBenchDefaults.messages} small persistent JSON messages drained from a durable classic queue by one consumer with a no-op handler at prefetch ${prefetch} (baseline: amqplib acking in its callback, TCP_NODELAY); msg/s`,
  candidate: warrenDrain(prefetch),
  baseline: rawDrain(prefetch),
  target: 0.95,
}));

/** Latency percentiles of one run, in milliseconds. */
export interface LatencyResult {
  label: string;
  p50: number;
  p99: number;
  max: number;
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
  await paced(count, consumeBenchDefaults.latencyRate, (i) => {
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

async function rawLatency(context: BenchContext, noDelay: boolean): Promise<LatencyResult> {
  const publisherModel = await amqpConnect(context.url, { noDelay });
  const consumerModel = await amqpConnect(context.url, { noDelay });
  const queue = context.queueName();
  try {
    const pub = await publisherModel.createConfirmChannel();
    await pub.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
    const sub = await consumerModel.createChannel();
    await sub.prefetch(1);
    const label = noDelay ? "amqplib, TCP_NODELAY" : "amqplib defaults (Nagle on)";
    return await collectLatencies(
      label,
      consumeBenchDefaults.latencyMessages,
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
}

async function warrenLatency(context: BenchContext): Promise<LatencyResult> {
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
      consumeBenchDefaults.latencyMessages,
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
}

/** End-to-end latency at 1,000 msg/s: amqplib defaults, amqplib with TCP_NODELAY, warren. */
export async function measureConsumeLatency(context: BenchContext): Promise<LatencyResult[]> {
  // One unmeasured run of each warms up the JIT of both code paths.
  await rawLatency(context, true);
  await warrenLatency(context);
  return [
    await rawLatency(context, false),
    await rawLatency(context, true),
    await warrenLatency(context),
  ];
}

/** Formats latency rows as a markdown table. */
export function formatLatency(results: readonly LatencyResult[]): string {
  const lines = ["| at 1,000 msg/s | p50 (ms) | p99 (ms) | max (ms) |", "|---|---:|---:|---:|"];
  for (const r of results) {
    lines.push(`| ${r.label} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} |`);
  }
  return lines.join("\n");
}

// `node bench/consume.ts`: the latency table (throughput runs in bench/run.ts).
if (import.meta.main) {
  const url = process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672";
  const runId = randomBytes(3).toString("hex");
  let counter = 0;
  const context: BenchContext = { url, queueName: () => `bench-latency-${runId}-${++counter}` };
  console.log(formatLatency(await measureConsumeLatency(context)));
}
