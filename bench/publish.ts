/**
 * Where the gap of pipelined publishing to the bare-message baseline comes
 * from, in two rows beside the peers table (peers.ts):
 *
 * - warren against raw amqplib sending the same message as warren
 *   (docs/architecture.md#message-properties-and-headers: `messageId`,
 *   `timestamp`, `mandatory`): warren's own overhead;
 * - raw amqplib sending warren's message against raw amqplib sending a bare
 *   one: what the broker and amqplib spend on the required properties, with
 *   no warren code involved.
 *
 * Same shape as the peers' pipelined publish: 1 KiB JSON, persistent, a
 * durable classic queue, `peerBenchDefaults.loops` loops each awaiting its
 * publish.
 */
import type { Comparison } from "./scenario.ts";
import {
  amqplibSameMessage,
  peerBenchDefaults,
  publishScenario,
  rawAmqplib,
  warrenSystem,
} from "./systems.ts";

const shape = `${peerBenchDefaults.pipelined} messages of ~1 KiB, persistent, to a durable classic queue; ${peerBenchDefaults.loops} concurrent loops of awaited publishes; msg/s`;

export const publishComparisons: Comparison[] = [
  {
    name: "pipelined publish, warren vs amqplib sending warren's message",
    description: `${shape}. Baseline: amqplib confirm channel (its defaults) sending the same message as warren (properties of [architecture.md](architecture.md#message-properties-and-headers), mandatory): warren's own overhead`,
    candidate: publishScenario(warrenSystem, "classic", "pipelined"),
    baseline: publishScenario(amqplibSameMessage, "classic", "pipelined"),
    target: 0.95,
  },
  {
    name: "cost of warren's message properties (amqplib vs amqplib)",
    description: `${shape}. Both sides raw amqplib (its defaults): the message warren sends (candidate) against the bare message (baseline); what the broker and amqplib spend on the required properties and the mandatory flag (measured, no target)`,
    candidate: publishScenario(amqplibSameMessage, "classic", "pipelined"),
    baseline: publishScenario(rawAmqplib, "classic", "pipelined"),
  },
];
