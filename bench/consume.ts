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
 *
 * End-to-end latency lives in latency.ts.
 */
import { connect as amqpConnect, type ChannelModel } from "amqplib";
import { connect } from "../src/client.ts";
import type { CompiledTopology } from "../src/topology/model.ts";
import {
  type BenchContext,
  type Comparison,
  type Measurement,
  type Scenario,
  scaled,
} from "./scenario.ts";

export const consumeBenchDefaults = Object.freeze({
  /** Messages per throughput run. */
  messages: 20_000,
});

const body = Buffer.from(JSON.stringify({ id: 1, kind: "bench", data: "x".repeat(64) }));

/** A topology that knows one bare work queue (one attempt, no tiers). */
export function topologyFor(queue: string): CompiledTopology {
  return {
    vhost: "/",
    exchanges: [],
    queues: [],
    bindings: [],
    retryPolicies: {
      [queue]: { queue, maxAttempts: 1, tiers: [], deadLetterQueue: `${queue}.dlq` },
    },
    delays: {},
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
    run: (context) => {
      const messages = scaled(context, consumeBenchDefaults.messages);
      return withFilledQueue(context, messages, async (queue) => {
        const warren = await connect({
          url: context.url,
          topology: topologyFor(queue),
          serviceName: "bench",
        });
        try {
          const clock = drainClock(messages);
          const consumer = await warren.consume(queue, clock.tick, { prefetch });
          const measurement = await clock.done;
          await consumer.close();
          return measurement;
        } finally {
          await warren.close();
        }
      });
    },
  };
}

function rawDrain(prefetch: number): Scenario {
  return {
    label: `amqplib consume (prefetch ${prefetch})`,
    run: (context) => {
      const messages = scaled(context, consumeBenchDefaults.messages);
      return withFilledQueue(context, messages, async (queue) => {
        const model = await amqpConnect(context.url, { noDelay: true });
        try {
          const channel = await model.createChannel();
          await channel.prefetch(prefetch);
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
      });
    },
  };
}

export const consumeComparisons: Comparison[] = [1, 50].map((prefetch) => ({
  name: `consume, prefetch ${prefetch}`,
  description: `${consumeBenchDefaults.messages} small persistent JSON messages drained from a durable classic queue by one consumer with a no-op handler at prefetch ${prefetch} (baseline: amqplib acking in its callback, TCP_NODELAY); msg/s`,
  candidate: warrenDrain(prefetch),
  baseline: rawDrain(prefetch),
  target: 0.95,
}));
