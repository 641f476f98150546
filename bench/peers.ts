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
 * The systems themselves are in systems.ts.
 */
import type { Comparison } from "./scenario.ts";
import {
  connectionManager,
  consumeScenario,
  peerBenchDefaults,
  publishScenario,
  type QueueType,
  rabbitmqClient,
  rawAmqplib,
  type System,
  warrenSystem as warren,
} from "./systems.ts";

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
