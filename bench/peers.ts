/**
 * warren against the other Node RabbitMQ clients, as a user would compare
 * them: each library through its public API with its defaults (confirms
 * on, persistent messages), a 1 KiB JSON body and an `async` no-op handler
 * on every side, on classic and on quorum queues. The baseline of every row
 * is raw amqplib sending a bare message (`persistent`, `contentType`), so
 * the ratios of warren, `rabbitmq-client` and `amqp-connection-manager` in
 * one table are comparable with each other.
 *
 * - awaited publish: one publish at a time, each awaited before the next;
 * - pipelined publish: `loops` async loops, each awaiting its own publish,
 *   as a service with that many requests in flight does;
 * - consume at prefetch 1 and 50: a pre-filled queue drained by one
 *   consumer, the clock running from the consume call to the last ack.
 *
 * The peers are bench-only devDependencies (neither has install scripts).
 */

import amqpManager from "amqp-connection-manager";
import { connect as amqpConnect, type ChannelModel } from "amqplib";
import { Connection as RabbitConnection } from "rabbitmq-client";
import { connect } from "../src/client.ts";
import { topologyFor } from "./consume.ts";
import {
  type BenchContext,
  type Comparison,
  type Measurement,
  type Scenario,
  scaled,
} from "./scenario.ts";

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
const payload = (i: number) => ({ id: i, at: 1_700_000_000_000, data: filler });

async function withQueue<T>(
  context: BenchContext,
  type: QueueType,
  fill: number,
  body: (queue: string) => Promise<T>,
): Promise<T> {
  const admin: ChannelModel = await amqpConnect(context.url);
  const channel = await admin.createConfirmChannel();
  const queue = context.queueName();
  await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": type } });
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
  try {
    return await body(queue);
  } finally {
    await channel.deleteQueue(queue);
    await admin.close();
  }
}

async function loops(
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
interface Publishing {
  open(
    url: string,
  ): Promise<{ publish(queue: string, i: number): Promise<unknown>; close(): Promise<void> }>;
}

/** How one library consumes: subscribe with an async no-op handler, ack after it. */
interface Consuming {
  open(
    url: string,
    queue: string,
    prefetch: number,
    onDone: () => void,
  ): Promise<{ close(): Promise<void> }>;
}

interface System {
  name: string;
  publishing: Publishing;
  consuming: Consuming;
}

const noop = async (): Promise<void> => {};

const rawAmqplib: System = {
  name: "amqplib (bare message)",
  publishing: {
    async open(url) {
      const model = await amqpConnect(url);
      const channel = await model.createConfirmChannel();
      return {
        publish: (queue, i) =>
          new Promise<void>((resolve, reject) => {
            channel.publish(
              "",
              queue,
              Buffer.from(JSON.stringify(payload(i))),
              { persistent: true, contentType: "application/json" },
              (error) => (error ? reject(error) : resolve()),
            );
          }),
        close: () => model.close(),
      };
    },
  },
  consuming: {
    async open(url, queue, prefetch, onDone) {
      const model = await amqpConnect(url);
      const channel = await model.createChannel();
      await channel.prefetch(prefetch);
      await channel.consume(queue, async (message) => {
        if (message === null) return;
        await noop();
        channel.ack(message);
        onDone();
      });
      return { close: () => model.close() };
    },
  },
};

const warren: System = {
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
    async open(url, queue, prefetch, onDone) {
      const client = await connect({ url, topology: topologyFor(queue), serviceName: "bench" });
      await client.consume(
        queue,
        async () => {
          await noop();
          // Counted as the handler returns; the runtime acks right after.
          onDone();
        },
        { prefetch },
      );
      return { close: () => client.close() };
    },
  },
};

const rabbitmqClient: System = {
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
    async open(url, queue, prefetch, onDone) {
      const rabbit = new RabbitConnection(url);
      const consumer = rabbit.createConsumer(
        // Passive: the queue exists; its own declare would use other arguments.
        { queue, queueOptions: { passive: true }, qos: { prefetchCount: prefetch } },
        async () => {
          await noop();
          // Acked by the library once this resolves.
          onDone();
        },
      );
      return {
        close: async () => {
          await consumer.close();
          await rabbit.close();
        },
      };
    },
  },
};

const connectionManager: System = {
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
    async open(url, queue, prefetch, onDone) {
      const connection = amqpManager.connect([url]);
      const channel = connection.createChannel();
      await channel.waitForConnect();
      await channel.consume(
        queue,
        async (message) => {
          await noop();
          channel.ack(message);
          onDone();
        },
        { prefetch },
      );
      return {
        close: async () => {
          await channel.close();
          await connection.close();
        },
      };
    },
  },
};

function publishScenario(system: System, type: QueueType, kind: "awaited" | "pipelined"): Scenario {
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

function consumeScenario(system: System, type: QueueType, prefetch: number): Scenario {
  return {
    label: `${system.name} consume prefetch ${prefetch} (${type})`,
    run: (context) => {
      const messages = scaled(context, peerBenchDefaults.consumed);
      return withQueue(context, type, messages, async (queue) => {
        const { promise, resolve } = Promise.withResolvers<Measurement>();
        let count = 0;
        const started = performance.now();
        const session = await system.consuming.open(context.url, queue, prefetch, () => {
          if (++count === messages) {
            resolve({ messages, seconds: (performance.now() - started) / 1000 });
          }
        });
        try {
          return await promise;
        } finally {
          await session.close();
        }
      });
    },
  };
}

/** The systems compared with the raw amqplib baseline, warren first. */
export const peerSystems: readonly System[] = [warren, rabbitmqClient, connectionManager];

function comparisonsFor(type: QueueType): Comparison[] {
  const rows: Comparison[] = [];
  const shapes = [
    {
      id: "awaited publish",
      what: `${peerBenchDefaults.awaited} publishes, each awaited before the next; msg/s`,
      make: (s: System) => publishScenario(s, type, "awaited"),
      target: 1.0,
    },
    {
      id: "pipelined publish",
      what: `${peerBenchDefaults.pipelined} publishes from ${peerBenchDefaults.loops} concurrent loops, each awaiting its publish; msg/s`,
      make: (s: System) => publishScenario(s, type, "pipelined"),
      target: 0.85,
    },
    {
      id: "consume prefetch 1",
      what: `${peerBenchDefaults.consumed} messages drained by one consumer at prefetch 1, async no-op handler, from the consume call to the last ack; msg/s`,
      make: (s: System) => consumeScenario(s, type, 1),
      target: 0.95,
    },
    {
      id: "consume prefetch 50",
      what: `${peerBenchDefaults.consumed} messages drained at prefetch 50, same; msg/s`,
      make: (s: System) => consumeScenario(s, type, 50),
      target: 1.2,
    },
  ];
  for (const shape of shapes) {
    const baseline = shape.make(rawAmqplib);
    for (const system of peerSystems) {
      rows.push({
        name: `${shape.id}, ${type}: ${system.name}`,
        description: `${shape.what}; ${type} queue; baseline raw amqplib sending a bare message`,
        candidate: shape.make(system),
        baseline,
        ...(system === warren ? { target: shape.target } : {}),
      });
    }
  }
  return rows;
}

export const peerComparisons: Comparison[] = [
  ...comparisonsFor("classic"),
  ...comparisonsFor("quorum"),
];
