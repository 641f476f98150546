/**
 * The subscription watch (src/consumer/subscription-watch.ts): a consumer
 * whose subscriptions the broker forgot without a cancel notification
 * subscribes again.
 *
 * The fault is made on the real broker: the consumer's own channels cancel
 * their consumer tags through amqplib, below warren, so the broker drops
 * the subscriptions and sends no notification (a basic.cancel-ok answers
 * the client's own cancel). This is the state a RabbitMQ 3.10 cluster left
 * consumers in when it deleted their quorum queue without notifying them
 * (docs/reliability.md, scenario 11).
 *
 * The third fault, a lane the broker owes a delivery it will not send, is
 * made the same way: the lane's amqplib channel swallows one delivery, so
 * the broker counts it unacknowledged while warren's lane waits idle. A
 * RabbitMQ 3.10 cluster left lanes in this state when settles were lost
 * across a paused quorum queue leader (scenario 4).
 */
import type { ChannelModel } from "amqplib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyTopology } from "../../../src/topology/apply.ts";
import {
  createHarness,
  type Harness,
  managementUrl,
  sleep,
  waitFor,
  workTopology,
} from "./harness.ts";

let h: Harness;
beforeEach(async (context) => {
  // The last test consumes a single-active-consumer quorum queue.
  const singleActive = context.task.name.includes("single active");
  h = await createHarness((vhost) =>
    workTopology(vhost, singleActive ? { type: "quorum", singleActiveConsumer: true } : {}),
  );
});
afterEach(async () => {
  await h.close();
});

const Q = "work";

/** The amqplib channels of a connection that hold consumers (amqplib 2 internals). */
interface ConsumingChannel {
  consumers: Map<string, unknown>;
  cancel(tag: string): Promise<unknown>;
}

/** Cancels every subscription of the consumer connection behind warren's back. */
async function forgetSubscriptions(): Promise<number> {
  let cancelled = 0;
  for (const channel of consumingChannels()) {
    for (const tag of [...channel.consumers.keys()]) {
      await channel.cancel(tag);
      cancelled++;
    }
  }
  return cancelled;
}

/** The amqplib channels of the consumer connection that hold consumers. */
function consumingChannels(): ConsumingChannel[] {
  const model = h.deps.connection.model as ChannelModel;
  const rows = (model.connection as unknown as { channels: ({ channel: unknown } | null)[] })
    .channels;
  return rows
    .map((row) => row?.channel as ConsumingChannel | undefined)
    .filter((channel): channel is ConsumingChannel => channel?.consumers instanceof Map);
}

/**
 * The next delivery to any of the consumer's subscriptions never reaches
 * warren: the broker counts it unacknowledged, the lane stays idle.
 */
function swallowNextDelivery(): { swallowed: boolean } {
  const state = { swallowed: false };
  for (const channel of consumingChannels()) {
    for (const [tag, deliver] of channel.consumers) {
      channel.consumers.set(tag, (message: unknown) => {
        if (state.swallowed) return (deliver as (m: unknown) => void)(message);
        state.swallowed = true;
      });
    }
  }
  return state;
}

/**
 * Consumes `Q` with a handler that takes `delayMs`; returns the ids handled
 * and the lanes the watch cancelled, in order.
 */
async function slowConsumer(
  delayMs: number,
  options: { concurrency: number; subscriptionCheckMs: number },
): Promise<{ ids: number[]; cancelled: number[] }> {
  const ids: number[] = [];
  const cancelled: number[] = [];
  const consumer = await h.consume<{ id: number }>(
    Q,
    async (message) => {
      await sleep(delayMs);
      ids.push(message.id);
    },
    options,
  );
  consumer.on("cancelled", (lane) => cancelled.push(lane));
  return { ids, cancelled };
}

async function brokerConsumers(): Promise<number> {
  const channel = await h.raw.createChannel();
  try {
    return (await channel.checkQueue(Q)).consumerCount;
  } finally {
    await channel.close();
  }
}

async function staleCount(): Promise<number> {
  const metric = await h.metrics.staleSubscriptions.get();
  return metric.values.find((v) => v.labels.queue === Q)?.value ?? 0;
}

describe("subscription watch", () => {
  it("subscribes again when the broker forgot its subscriptions without a cancel", async () => {
    const ids: number[] = [];
    const consumer = await h.consume<{ id: number }>(Q, (message) => void ids.push(message.id), {
      concurrency: 2,
      subscriptionCheckMs: 100,
    });
    const cancelled: number[] = [];
    consumer.on("cancelled", (lane) => cancelled.push(lane));
    expect(await forgetSubscriptions()).toBe(2);
    expect(consumer.consuming).toBe(true); // warren does not know yet

    await waitFor(() => cancelled.length === 2, 5_000, "both lanes found stale");
    await waitFor(
      async () => (await brokerConsumers()) === 2,
      10_000,
      "both lanes subscribed again",
    );
    expect(consumer.consuming).toBe(true);
    expect(await staleCount()).toBe(2);
    await h.publish("events", "job.created", { id: 1 });
    await waitFor(() => ids.includes(1), 5_000, "the message handled");
  });

  it("without the watch, such a consumer stays deaf (the fault this guards against)", async () => {
    const ids: number[] = [];
    await h.consume<{ id: number }>(Q, (message) => void ids.push(message.id), {
      subscriptionCheckMs: 0,
    });
    expect(await forgetSubscriptions()).toBe(1);
    await h.publish("events", "job.created", { id: 1 });
    await sleep(1_500);
    expect(ids).toEqual([]);
    expect(await brokerConsumers()).toBe(0);
    expect(await h.depth(Q)).toBe(1);
  });

  it("finds a queue deleted and restored with no cancel, and consumes the restored one", async () => {
    const ids: number[] = [];
    await h.consume<{ id: number }>(Q, (message) => void ids.push(message.id), {
      subscriptionCheckMs: 200,
      resubscribeMaxDelayMs: 200,
    });
    await forgetSubscriptions();
    // No consumer left on the broker's side: the delete notifies nobody.
    await h.channel.deleteQueue(Q);
    await sleep(1_000);
    await applyTopology(h.topology, { url: h.url, managementUrl });
    await waitFor(
      async () => (await brokerConsumers()) === 1,
      10_000,
      "the lane on the restored queue",
    );
    expect(await staleCount()).toBe(1);
    await h.publish("events", "job.created", { id: 7 });
    await waitFor(() => ids.includes(7), 5_000, "the message handled");
  });

  it("hands back a delivery the broker counts unacked while the lane got none, and runs it", async () => {
    const ids: number[] = [];
    const consumer = await h.consume<{ id: number }>(Q, (message) => void ids.push(message.id), {
      subscriptionCheckMs: 100,
      resubscribeMaxDelayMs: 100,
    });
    const cancelled: number[] = [];
    consumer.on("cancelled", (lane) => cancelled.push(lane));
    const lost = swallowNextDelivery();
    await h.publish("events", "job.created", { id: 1 });
    await waitFor(() => lost.swallowed, 5_000, "the first delivery swallowed");
    // The lane's one unacked slot is taken: the second message waits ready.
    await h.publish("events", "job.created", { id: 2 });
    await waitFor(() => ids.length === 2, 10_000, "both messages handled");
    expect(ids.sort()).toEqual([1, 2]);
    expect(cancelled).toEqual([0]);
    expect(await staleCount()).toBe(1);
    await waitFor(async () => (await h.depth(Q)) === 0, 5_000, "the queue empty");
  });

  it("without the watch, the owed delivery never comes (the fault this guards against)", async () => {
    const ids: number[] = [];
    await h.consume<{ id: number }>(Q, (message) => void ids.push(message.id), {
      subscriptionCheckMs: 0,
    });
    const lost = swallowNextDelivery();
    await h.publish("events", "job.created", { id: 1 });
    await waitFor(() => lost.swallowed, 5_000, "the first delivery swallowed");
    await h.publish("events", "job.created", { id: 2 });
    await sleep(1_500);
    expect(ids).toEqual([]);
    expect(await h.depth(Q)).toBe(1); // ready; the swallowed one is unacked
  });

  it("leaves busy lanes alone while messages wait", async () => {
    // Checks far more often than deliveries: many land in the moment a
    // lane has settled one message and waits for the next.
    const { ids, cancelled } = await slowConsumer(50, { concurrency: 2, subscriptionCheckMs: 10 });
    for (let id = 1; id <= 60; id++) await h.publish("events", "job.created", { id });
    await waitFor(() => ids.length === 60, 10_000, "all handled");
    expect(cancelled).toEqual([]);
    expect(await staleCount()).toBe(0);
  });

  it("leaves the waiting lanes of a single active consumer queue alone (the broker counts one)", async () => {
    const { ids, cancelled } = await slowConsumer(300, {
      concurrency: 3,
      subscriptionCheckMs: 100,
    });
    await sleep(1_000);
    expect(await brokerConsumers()).toBe(1);
    // Messages wait ready behind the active lane while the others idle.
    for (let id = 1; id <= 6; id++) await h.publish("events", "job.created", { id });
    await waitFor(() => ids.length === 6, 10_000, "all handled");
    expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
    expect(cancelled).toEqual([]);
    expect(await staleCount()).toBe(0);
  });
});
