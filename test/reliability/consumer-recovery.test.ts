import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyTopology } from "../../src/topology/apply.ts";
import {
  consumedCount,
  createHarness,
  type Harness,
  killConnection,
  managementUrl,
  sleep,
  waitFor,
} from "../integration/consumer/harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

const consumed = (outcome: string) => consumedCount(h, outcome);

describe("consumer recovery", () => {
  it("drops the ack of a delivery whose connection died, gets it again, and keeps consuming", async () => {
    const seen: { id: number; redelivered: boolean }[] = [];
    let release: () => void = () => {};
    const consumer = await h.consume<{ id: number }>(Q, async (message, context) => {
      seen.push({ id: message.id, redelivered: context.redelivered });
      if (seen.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const subscribed: number[] = [];
    consumer.on("subscribed", (lane) => subscribed.push(lane));
    await h.publish("events", "job.created", { id: 1 });
    await waitFor(() => seen.length === 1);
    // Kill the broker side of every connection while the handler runs, then
    // let the handler finish: its ack belongs to a dead channel.
    await killConnection(h.vhost, h.deps.connection.name);
    await waitFor(() => h.deps.connection.generation >= 2, 10_000, "the reconnect");
    release();
    await waitFor(() => subscribed.length >= 1, 10_000, "the re-subscribe");
    await waitFor(() => seen.length >= 2, 10_000, "the redelivery");
    expect(seen[1]).toEqual({ id: 1, redelivered: true });
    await h.publish("events", "job.created", { id: 2 });
    await waitFor(() => seen.some((s) => s.id === 2));
    await waitFor(async () => (await h.depth(Q)) === 0);
    expect(consumer.consuming).toBe(true);
  });

  it("reports a queue deleted under it and re-subscribes once the queue is back", async () => {
    const ids: number[] = [];
    const consumer = await h.consume<{ id: number }>(
      Q,
      (message) => {
        ids.push(message.id);
      },
      { resubscribeMaxDelayMs: 200 },
    );
    const cancelled: number[] = [];
    consumer.on("cancelled", (lane) => cancelled.push(lane));
    await h.channel.deleteQueue(Q);
    await waitFor(() => cancelled.length === 1, 10_000, "the cancel notification");
    expect(consumer.consuming).toBe(false);
    // Missing for a while: the consumer keeps polling with backoff.
    await sleep(500);
    await applyTopology(h.topology, { url: h.url, managementUrl });
    await waitFor(() => consumer.consuming, 10_000, "the re-subscribe");
    await h.publish("events", "job.created", { id: 7 });
    await waitFor(() => ids.includes(7));
    expect(await consumed("acked")).toBe(1);
  });
});

const Q = "work";
