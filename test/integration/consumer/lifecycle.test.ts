import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryIdempotencyStore } from "../../../src/idempotency/memory-store.ts";
import { consumedCount, createHarness, type Harness, sleep, waitFor } from "./harness.ts";

const Q = "work";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

const consumed = (outcome: string) => consumedCount(h, outcome);

describe("idempotency hook", () => {
  it("acks a duplicate without calling the handler", async () => {
    const store = createMemoryIdempotencyStore();
    const ids: string[] = [];
    await h.consume(
      Q,
      (_m, context) => {
        ids.push(String(context.messageId));
      },
      { idempotency: { store } },
    );
    await h.publish("events", "job.created", { n: 1 }, { messageId: "same" });
    await h.publish("events", "job.created", { n: 1 }, { messageId: "same" });
    await waitFor(async () => (await consumed("duplicate")) === 1);
    expect(ids).toEqual(["same"]);
    expect(await consumed("acked")).toBe(1);
    expect(await h.depth(Q)).toBe(0);
  });

  it("sends a message whose key is in progress elsewhere to the first tier, then runs it", async () => {
    const store = createMemoryIdempotencyStore();
    const held = await store.begin("busy", 60_000);
    if (held.status !== "acquired") throw new Error("lease not taken");
    const attempts: number[] = [];
    await h.consume(
      Q,
      (_m, context) => {
        attempts.push(context.attempt);
      },
      { idempotency: { store } },
    );
    await h.publish("events", "job.created", {}, { messageId: "busy" });
    await waitFor(async () => (await consumed("retried")) >= 1);
    expect(attempts).toEqual([]);
    await store.release("busy", held.token);
    await waitFor(async () => (await consumed("acked")) === 1);
    // Waiting for a lease is not a failed attempt.
    expect(attempts).toEqual([1]);
  });

  it("takes the normal failure path when the guarded work throws, with a custom key", async () => {
    const store = createMemoryIdempotencyStore();
    const attempts: number[] = [];
    await h.consume<{ orderId: string }>(
      Q,
      (_m, context) => {
        attempts.push(context.attempt);
        if (context.attempt === 1) throw new Error("first try fails");
      },
      { idempotency: { store, key: (message) => message.orderId } },
    );
    await h.publish("events", "job.created", { orderId: "o-1" });
    await waitFor(async () => (await consumed("acked")) === 1);
    expect(attempts).toEqual([1, 2]);
    await h.publish("events", "job.created", { orderId: "o-1" });
    await waitFor(async () => (await consumed("duplicate")) === 1);
    expect(attempts).toEqual([1, 2]);
  });
});

describe("close()", () => {
  it("stops taking messages and waits for a running handler before closing", async () => {
    let finished = false;
    let started = false;
    const consumer = await h.consume(Q, async () => {
      started = true;
      await sleep(300);
      finished = true;
    });
    await h.publish("events", "job.created", { n: 1 });
    await h.publish("events", "job.created", { n: 2 });
    await waitFor(() => started);
    let closedEvents = 0;
    consumer.on("closed", () => closedEvents++);
    await Promise.all([consumer.close(), consumer.close()]);
    expect(finished).toBe(true);
    // Emitted once, when close() is done (the client drops the consumer on it).
    expect(closedEvents).toBe(1);
    expect(await consumed("acked")).toBe(1);
    // The second one was never started and is back in the queue.
    await waitFor(async () => (await h.depth(Q)) === 1);
  });

  it("leaves a handler that misses the drain deadline unacked for the broker to redeliver", async () => {
    const consumer = await h.consume(Q, async () => {
      await sleep(1_000);
    });
    await h.publish("events", "job.created", { n: 1 }, { messageId: "slow" });
    await waitFor(async () => (await h.metrics.handlersInFlight.get()).values[0]?.value === 1);
    await consumer.close({ drainTimeoutMs: 100 });
    await waitFor(async () => (await h.depth(Q)) === 1);
    await sleep(1_100);
    expect(await consumed("acked")).toBe(0);
    const [again] = await h.collect(Q, 1);
    expect(again?.properties.messageId).toBe("slow");
    expect(again?.fields.redelivered).toBe(true);
  });
});
