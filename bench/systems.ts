/**
 * The libraries the benchmark compares, each driven through its public API
 * with its defaults (confirms on, persistent messages), and the shared
 * workload pieces: the 1 KiB JSON payload, a queue made (and filled) for one
 * run, and N concurrent loops that each await their publish. peers.ts,
 * publish.ts, consume.ts and cpu.ts all build on these, so every scenario
 * sends the same message and counts the same way.
 *
 * The peers are bench-only devDependencies (neither has install scripts).
 */
import amqpManager from "amqp-connection-manager";
import {
  connect as amqpConnect,
  type ChannelModel,
  type ConfirmChannel,
  type Options,
} from "amqplib";
import { Connection as RabbitConnection } from "rabbitmq-client";
import { connect } from "../src/client.ts";
import { uuidv7 } from "../src/publisher/publish.ts";
import type { CompiledTopology } from "../src/topology/model.ts";
import { type BenchContext, type Measurement, type Scenario, scaled } from "./scenario.ts";

export type QueueType = "classic" | "quorum";

export const peerBenchDefaults = Object.freeze({
  /** Messages of an awaited-publish run. */
  awaited: 5_000,
  /** Messages of a pipelined-publish run. */
  pipelined: 50_000,
  /** Concurrent loops of the pipelined publish. */
  loops: 1_000,
  /** Messages of a consume run. */
  consumed: 20_000,
});

const filler = "x".repeat(1024 - 40);

/** The body of message `i`: about 1 KiB of JSON. */
export const payload = (i: number) => ({ id: i, at: 1_700_000_000_000, data: filler });

/** A topology that knows one bare work queue (one attempt, no tiers), for warren's consumer. */
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

/** Declares a durable queue of `type` and fills it with `fill` bare persistent messages. */
export async function declareQueue(
  url: string,
  queue: string,
  type: QueueType,
  fill: number,
): Promise<ChannelModel> {
  const admin: ChannelModel = await amqpConnect(url);
  const channel = await admin.createConfirmChannel();
  await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": type } });
  await fillQueue(channel, queue, fill);
  return admin;
}

/** Publishes `fill` bare persistent 1 KiB messages to `queue` and waits for their confirms. */
export async function fillQueue(
  channel: ConfirmChannel,
  queue: string,
  fill: number,
): Promise<void> {
  for (let i = 0; i < fill; i++) {
    const content = Buffer.from(JSON.stringify(payload(i)));
    if (
      !channel.sendToQueue(queue, content, { persistent: true, contentType: "application/json" })
    ) {
      await new Promise((resolve) => channel.once("drain", resolve));
    }
    if (i % 5_000 === 4_999) await channel.waitForConfirms();
  }
  await channel.waitForConfirms();
}

/** Runs `body` on a fresh queue of `type` holding `fill` messages, then deletes the queue. */
export async function withQueue<T>(
  context: BenchContext,
  type: QueueType,
  fill: number,
  body: (queue: string) => Promise<T>,
): Promise<T> {
  const queue = context.queueName();
  const admin = await declareQueue(context.url, queue, type, fill);
  try {
    return await body(queue);
  } finally {
    const channel = await admin.createChannel();
    await channel.deleteQueue(queue);
    await admin.close();
  }
}

/** `concurrency` async loops that each await `publishOne` until `messages` are sent. */
export async function loops(
  messages: number,
  concurrency: number,
  publishOne: (i: number) => Promise<unknown>,
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

/** How one library publishes to a queue, set up and torn down per run. */
export interface Publishing {
  open(
    url: string,
  ): Promise<{ publish(queue: string, i: number): Promise<unknown>; close(): Promise<void> }>;
}

/**
 * How one library consumes: connect, then (the `consume` call, where the
 * clock of a consume scenario starts) open the consumer's channel and
 * subscribe with an async no-op handler that is acked after it.
 */
export interface Consuming {
  open(
    url: string,
    queue: string,
  ): Promise<{
    consume(prefetch: number, onDone: () => void): Promise<void>;
    close(): Promise<void>;
  }>;
}

export interface System {
  name: string;
  publishing: Publishing;
  consuming: Consuming;
}

const noop = async (): Promise<void> => {};

/**
 * Raw amqplib: a confirm channel with amqplib's defaults (Nagle on unless
 * `noDelay`), each publish awaited through its confirm callback, sending the
 * properties `properties(i)` gives; the consumer acks after an async no-op.
 */
export function amqplibSystem(
  name: string,
  properties: (i: number) => Options.Publish,
  noDelay = false,
): System {
  return {
    name,
    publishing: {
      async open(url) {
        const model = await amqpConnect(url, { noDelay });
        const channel = await model.createConfirmChannel();
        return {
          publish: (queue, i) =>
            new Promise<void>((resolve, reject) => {
              channel.publish(
                "",
                queue,
                Buffer.from(JSON.stringify(payload(i))),
                properties(i),
                (error) => (error ? reject(error) : resolve()),
              );
            }),
          close: () => model.close(),
        };
      },
    },
    consuming: {
      async open(url, queue) {
        const model = await amqpConnect(url, { noDelay });
        return {
          async consume(prefetch, onDone) {
            const channel = await model.createChannel();
            await channel.prefetch(prefetch);
            await channel.consume(queue, async (message) => {
              if (message === null) return;
              await noop();
              channel.ack(message);
              onDone();
            });
          },
          close: () => model.close(),
        };
      },
    },
  };
}

const bareProperties: Options.Publish = { persistent: true, contentType: "application/json" };

/** The baseline of every comparison: raw amqplib sending a bare message. */
export const rawAmqplib: System = amqplibSystem("amqplib (bare message)", () => bareProperties);

/**
 * Raw amqplib sending the message warren sends (docs/architecture.md#message-properties-and-headers):
 * `messageId` (UUIDv7), `timestamp`, `mandatory`; warren's own overhead is the gap to this.
 */
export const amqplibSameMessage: System = amqplibSystem("amqplib (warren's message)", () => ({
  persistent: true,
  contentType: "application/json",
  messageId: uuidv7(),
  timestamp: Math.floor(Date.now() / 1000),
  mandatory: true,
}));

/**
 * Diagnostics for what the broker spends on one property (bench/cpu.ts):
 * the bare message with only `mandatory` added, and warren's message
 * without `mandatory`. A classic queue in RabbitMQ 3.x answers every
 * mandatory message it takes with a `mandatory_received` message to the
 * publishing channel's process; a quorum queue does not.
 */
export const amqplibBareMandatory: System = amqplibSystem("amqplib (bare, mandatory)", () => ({
  ...bareProperties,
  mandatory: true,
}));

export const amqplibSameMessageNotMandatory: System = amqplibSystem(
  "amqplib (warren's message, not mandatory)",
  () => ({
    persistent: true,
    contentType: "application/json",
    messageId: uuidv7(),
    timestamp: Math.floor(Date.now() / 1000),
  }),
);

export const warrenSystem: System = {
  name: "warren",
  publishing: {
    async open(url) {
      const client = await connect({ url, serviceName: "bench" });
      return {
        publish: (queue, i) => client.publish(queue, payload(i)),
        close: () => client.close(),
      };
    },
  },
  consuming: {
    async open(url, queue) {
      const client = await connect({ url, topology: topologyFor(queue), serviceName: "bench" });
      return {
        async consume(prefetch, onDone) {
          // Opens the client's consumer connection too (warren keeps
          // consumers off the publisher's connection): inside the clock.
          await client.consume(
            queue,
            async () => {
              await noop();
              // Counted as the handler returns; the runtime acks right after.
              onDone();
            },
            { prefetch },
          );
        },
        close: () => client.close(),
      };
    },
  },
};

export const rabbitmqClient: System = {
  name: "rabbitmq-client",
  publishing: {
    async open(url) {
      const rabbit = new RabbitConnection(url);
      const publisher = rabbit.createPublisher({ confirm: true });
      await rabbit.onConnect();
      return {
        publish: (queue, i) => publisher.send({ routingKey: queue, durable: true }, payload(i)),
        close: async () => {
          await publisher.close();
          await rabbit.close();
        },
      };
    },
  },
  consuming: {
    async open(url, queue) {
      const rabbit = new RabbitConnection(url);
      await rabbit.onConnect();
      let consumer: ReturnType<RabbitConnection["createConsumer"]> | undefined;
      return {
        async consume(prefetch, onDone) {
          consumer = rabbit.createConsumer(
            // Passive: the queue exists; its own declare would use other arguments.
            { queue, queueOptions: { passive: true }, qos: { prefetchCount: prefetch } },
            async () => {
              await noop();
              // Acked by the library once this resolves.
              onDone();
            },
          );
        },
        close: async () => {
          await consumer?.close();
          await rabbit.close();
        },
      };
    },
  },
};

export const connectionManager: System = {
  name: "amqp-connection-manager",
  publishing: {
    async open(url) {
      const connection = amqpManager.connect([url]);
      const channel = connection.createChannel({ json: true });
      await channel.waitForConnect();
      return {
        publish: (queue, i) => channel.sendToQueue(queue, payload(i), { persistent: true }),
        close: async () => {
          await channel.close();
          await connection.close();
        },
      };
    },
  },
  consuming: {
    async open(url, queue) {
      const connection = amqpManager.connect([url]);
      await connection.connect();
      let channel: ReturnType<typeof connection.createChannel> | undefined;
      return {
        async consume(prefetch, onDone) {
          const opened = connection.createChannel();
          channel = opened;
          await opened.waitForConnect();
          await opened.consume(
            queue,
            async (message) => {
              await noop();
              opened.ack(message);
              onDone();
            },
            { prefetch },
          );
        },
        close: async () => {
          await channel?.close();
          await connection.close();
        },
      };
    },
  },
};

/** One library publishing `peerBenchDefaults[kind]` messages to a fresh queue of `type`. */
export function publishScenario(
  system: System,
  type: QueueType,
  kind: "awaited" | "pipelined",
): Scenario {
  return {
    label: `${system.name} ${kind} publish (${type})`,
    run: (context) =>
      withQueue(context, type, 0, async (queue) => {
        const session = await system.publishing.open(context.url);
        try {
          const messages = scaled(context, peerBenchDefaults[kind]);
          const concurrency = kind === "awaited" ? 1 : peerBenchDefaults.loops;
          return await loops(messages, concurrency, (i) => session.publish(queue, i));
        } finally {
          await session.close();
        }
      }),
  };
}

/**
 * One library draining a pre-filled queue of `type` at `prefetch`, from the
 * consume call (on a connected client; opening the consumer's channel is
 * inside the clock) to the last ack, as issue #10 defines the scenario.
 */
export function consumeScenario(system: System, type: QueueType, prefetch: number): Scenario {
  return {
    label: `${system.name} consume prefetch ${prefetch} (${type})`,
    run: (context) => {
      const messages = scaled(context, peerBenchDefaults.consumed);
      return withQueue(context, type, messages, async (queue) => {
        const { promise, resolve } = Promise.withResolvers<Measurement>();
        let count = 0;
        const session = await system.consuming.open(context.url, queue);
        try {
          const started = performance.now();
          await session.consume(prefetch, () => {
            if (++count === messages) {
              resolve({ messages, seconds: (performance.now() - started) / 1000 });
            }
          });
          return await promise;
        } finally {
          await session.close();
        }
      });
    },
  };
}

/** Every system by the name the command line uses for it. */
export const systemsByKey: Readonly<Record<string, System>> = {
  amqplib: rawAmqplib,
  "amqplib-same-message": amqplibSameMessage,
  "amqplib-mandatory": amqplibBareMandatory,
  "amqplib-same-message-not-mandatory": amqplibSameMessageNotMandatory,
  warren: warrenSystem,
  "rabbitmq-client": rabbitmqClient,
  "amqp-connection-manager": connectionManager,
};
