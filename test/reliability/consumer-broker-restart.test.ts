/**
 * The consumer rides out a broker stop and restart: it reconnects,
 * re-subscribes, and every message published before, during or after the
 * outage is handled; a retry copy waiting in a tier survives the restart.
 * Runs on a broker of its own (never the shared one).
 */
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../src/client.ts";
import { compileTopology } from "../../src/topology/compile.ts";
import { parseTopology } from "../../src/topology/load.ts";
import type { CompiledTopology } from "../../src/topology/model.ts";
import { logger, sleep } from "../integration/publisher/support.ts";
import {
  createThrowawayNode,
  type ThrowawayNode,
} from "../integration/publisher/throwaway-node.ts";
import { until } from "../support/wait.ts";

const topology = parseTopology(
  ["queues:", "  jobs:", "    retry: { delays: [5s], maxAttempts: 2 }", ""].join("\n"),
  { fileName: "restart.yaml" },
);

async function declare(url: string, compiled: CompiledTopology): Promise<void> {
  const model = await amqp.connect(url);
  try {
    const channel = await model.createChannel();
    for (const queue of compiled.queues) {
      await channel.assertQueue(queue.name, { durable: true, arguments: queue.arguments });
    }
  } finally {
    await model.close();
  }
}

describe("consumer across a broker restart", () => {
  let node: ThrowawayNode;
  let warren: Warren | undefined;

  beforeAll(async () => {
    node = await createThrowawayNode();
    await node.start();
    await declare(node.url, compileTopology(topology));
  });

  afterAll(async () => {
    await warren?.close();
    await node?.destroy();
  });

  it("reconnects, re-subscribes and handles every message, including one waiting in a retry tier", async () => {
    const client = await connect({
      url: node.url,
      topology,
      logger,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    warren = client;
    const handled = new Set<number>();
    const attempts = new Map<number, number[]>();
    const consumer = await client.consume("jobs", async (job: { id: number }, ctx) => {
      attempts.set(job.id, [...(attempts.get(job.id) ?? []), ctx.attempt]);
      // Job 0 fails once: its copy waits 5 s in jobs.retry.5s, across the restart.
      if (job.id === 0 && ctx.attempt === 1) throw new Error("first try fails");
      handled.add(job.id);
    });

    for (let id = 0; id < 50; id++) await client.publish("jobs", { id });
    await until(() => handled.size === 49 && attempts.has(0), 15_000, "first 50 handled");

    await node.stop();
    await sleep(500);
    expect(consumer.consuming).toBe(false);
    await node.start();
    await until(() => client.connected && consumer.consuming, 30_000, "re-subscribed");

    for (let id = 50; id < 100; id++) await client.publish("jobs", { id });
    await until(() => handled.size === 100, 30_000, "all 100 handled");
    expect(attempts.get(0)).toEqual([1, 2]);
    await consumer.close();
  });
});
