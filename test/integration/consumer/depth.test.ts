import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHarness, type Harness, waitFor } from "./harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

async function depth(queue: string): Promise<number | undefined> {
  const metric = await h.metrics.queueDepth.get();
  return metric.values.find((v) => v.labels.queue === queue)?.value;
}

describe("queue depth metric", () => {
  it("reports the depth of the queue, its retry tiers and its dead-letter queue", async () => {
    for (let i = 0; i < 3; i++) {
      h.channel.sendToQueue("work.dlq", Buffer.from(JSON.stringify({ i })), { persistent: true });
    }
    await h.channel.waitForConfirms();
    const consumer = await h.consume("work", () => {}, { depthIntervalMs: 100 });

    await waitFor(async () => (await depth("work.dlq")) === 3, 5_000, "work.dlq depth 3");
    expect(await depth("work")).toBe(0);
    expect(await depth("work.retry.200ms")).toBe(0);
    expect(await depth("work.retry.500ms")).toBe(0);

    await h.collect("work.dlq", 3);
    await waitFor(async () => (await depth("work.dlq")) === 0, 5_000, "work.dlq drained");
    await consumer.close();
  });
});
