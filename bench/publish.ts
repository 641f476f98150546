/**
 * Pipelined publishing: `concurrency` async loops, each awaiting one
 * confirmed publish after another, until `messages` 1 KiB persistent JSON
 * messages sit in a durable classic queue (reached through the default
 * exchange). The baselines are what a careful amqplib user writes: a
 * confirm channel with amqplib's defaults (Nagle on, no window), each publish
 * awaited through its confirm callback, and
 *
 * - the same message warren sends (JSON body, the properties and headers of
 *   docs/architecture.md#message-properties-and-headers, mandatory): the ratio is warren's own overhead;
 * - a bare message (JSON body, `persistent` and `contentType` only): the
 *   ratio adds what the broker spends on the properties warren requires.
 *
 * A third comparison pits the two amqplib baselines against each other, to
 * show what the properties of docs/architecture.md#message-properties-and-headers cost on their own (no warren
 * code involved).
 */
import { connect as amqpConnect, type Channel, type ChannelModel } from "amqplib";
import { connect } from "../src/client.ts";
import { uuidv7 } from "../src/publisher/publish.ts";
import {
  type BenchContext,
  type Comparison,
  type Measurement,
  type Scenario,
  scaled,
} from "./scenario.ts";

/** Size of the shape of each message. */
export const publishBenchDefaults = Object.freeze({
  /** Messages per run. */
  messages: 20_000,
  /** Concurrent publish loops. */
  concurrency: 500,
  /** Approximate JSON body size, in bytes. */
  bodyBytes: 1024,
});

const filler = "x".repeat(publishBenchDefaults.bodyBytes - 40);

function payload(i: number) {
  return { id: i, at: 1_700_000_000_000, data: filler };
}

async function withQueue<T>(
  context: BenchContext,
  body: (queue: string) => Promise<T>,
): Promise<T> {
  const admin: ChannelModel = await amqpConnect(context.url);
  const channel: Channel = await admin.createChannel();
  const queue = context.queueName();
  await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
  try {
    return await body(queue);
  } finally {
    await channel.deleteQueue(queue);
    await admin.close();
  }
}

async function pipelined(
  messages: number,
  concurrency: number,
  publishOne: (i: number) => Promise<void>,
): Promise<Measurement> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages) await publishOne(next++);
    }),
  );
  return { messages, seconds: (performance.now() - started) / 1000 };
}

/** warren's `publish`, resolved on each confirm. */
export const warrenPublish: Scenario = {
  label: "warren publish",
  run: (context) =>
    withQueue(context, async (queue) => {
      const warren = await connect({ url: context.url, serviceName: "bench" });
      try {
        const messages = scaled(context, publishBenchDefaults.messages);
        const { concurrency } = publishBenchDefaults;
        return await pipelined(messages, concurrency, (i) => warren.publish(queue, payload(i)));
      } finally {
        await warren.close();
      }
    }),
};

type Properties = (queue: string) => Record<string, unknown>;

/** amqplib's confirm channel with its defaults, publishing with `properties`. */
function rawAmqplib(label: string, properties: Properties): Scenario {
  return {
    label,
    run: (context) =>
      withQueue(context, async (queue) => {
        const model = await amqpConnect(context.url);
        const channel = await model.createConfirmChannel();
        try {
          const messages = scaled(context, publishBenchDefaults.messages);
          const { concurrency } = publishBenchDefaults;
          return await pipelined(
            messages,
            concurrency,
            (i) =>
              new Promise<void>((resolve, reject) => {
                channel.publish(
                  "",
                  queue,
                  Buffer.from(JSON.stringify(payload(i))),
                  properties(queue),
                  (error) => (error ? reject(error) : resolve()),
                );
              }),
          );
        } finally {
          await model.close();
        }
      }),
  };
}

/** The message warren sends, published with raw amqplib. */
export const rawAmqplibSameMessage = rawAmqplib("amqplib, same message", (queue) => ({
  persistent: true,
  contentType: "application/json",
  messageId: uuidv7(),
  timestamp: Math.floor(Date.now() / 1000),
  type: queue,
  headers: { "warren-attempt": 1 },
  mandatory: true,
}));

/** A bare persistent JSON message, published with raw amqplib. */
export const rawAmqplibBareMessage = rawAmqplib("amqplib, bare message", () => ({
  persistent: true,
  contentType: "application/json",
}));

const shape = `${publishBenchDefaults.messages} messages of ~1 KiB, persistent, to a durable classic queue; ${publishBenchDefaults.concurrency} concurrent loops of awaited publishes; msg/s`;

export const publishComparisons: Comparison[] = [
  {
    name: "pipelined publish",
    description: `${shape}. Baseline: amqplib confirm channel (its defaults) sending the same message as warren (properties and headers of [architecture.md](architecture.md#message-properties-and-headers), mandatory)`,
    candidate: warrenPublish,
    baseline: rawAmqplibSameMessage,
    target: 0.95,
  },
  {
    name: "pipelined publish, bare baseline",
    description: `${shape}. Baseline: amqplib confirm channel (its defaults) sending only \`persistent\` and \`contentType\`; the gap includes the broker's cost of warren's required properties`,
    candidate: warrenPublish,
    baseline: rawAmqplibBareMessage,
    target: 0.95,
  },
  {
    name: "cost of warren's message properties (amqplib vs amqplib)",
    description: `${shape}. Both sides raw amqplib (its defaults): the message warren sends (candidate) against the bare message (baseline); isolates what the broker and amqplib spend on the required properties, headers and mandatory flag (measured, no target)`,
    candidate: rawAmqplibSameMessage,
    baseline: rawAmqplibBareMessage,
  },
];
