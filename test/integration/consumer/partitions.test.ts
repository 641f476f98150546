/**
 * Partitioned queues on a real broker: `consume("Q")` takes every partition,
 * each key stays in one partition and in order, retries come back to their
 * partition, and `ordering` decides whether later messages of a key overtake
 * a failed one (`overtake`) or wait for it (`hold`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { inspectDeadLetters } from "../../../src/dlq/inspect.ts";
import { replayDeadLetters } from "../../../src/dlq/replay.ts";
import { ConsumeError, NonRetryableError } from "../../../src/errors.ts";
import { readQueueStatus } from "../../../src/status/queue-status.ts";
import { createHarness, type Harness, managementUrl, waitFor } from "./harness.ts";

function partitionedTopology(partitions: number, extra: Record<string, unknown> = {}) {
  return (vhost: string) => ({
    vhost,
    exchanges: { events: { type: "topic" } },
    queues: {
      orders: {
        partitions,
        bindings: [{ exchange: "events", routingKey: "order.#" }],
        retry: { delays: ["300ms"], maxAttempts: 3 },
        ...extra,
      },
    },
  });
}

describe("partitioned queues", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("consumes every partition, keeps each key in one partition and in order, and dead-letters into the shared Q.dlq", async () => {
    h = await createHarness(partitionedTopology(4));
    const seen = new Map<string, { seq: number; queue: string }[]>();
    const keys = Array.from({ length: 12 }, (_, i) => `order.k${i}`);
    const consumer = await h.consume<{ seq: number; poison?: boolean }>(
      "orders",
      (message, context) => {
        if (message.poison === true) throw new Error("poison");
        const list = seen.get(context.routingKey) ?? [];
        list.push({ seq: message.seq, queue: context.queue });
        seen.set(context.routingKey, list);
      },
      { prefetch: 10 },
    );
    expect(consumer.lanes).toBe(4);
    for (let seq = 0; seq < 30; seq++) {
      for (const key of keys) await h.publish("events", key, { seq });
    }
    await h.publish("events", "order.k0", { seq: -1, poison: true });
    await waitFor(
      () => [...seen.values()].reduce((n, list) => n + list.length, 0) === 360,
      30_000,
      "360 messages",
    );
    const partitionsUsed = new Set<string>();
    for (const key of keys) {
      const list = seen.get(key)!;
      expect(list.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(new Set(list.map((e) => e.queue)).size).toBe(1);
      partitionsUsed.add(list[0]!.queue);
    }
    expect(partitionsUsed.size).toBeGreaterThan(1);
    for (const queue of partitionsUsed) expect(queue).toMatch(/^orders\.p[0-3]$/);
    // Three attempts (two through orders.pN.retry.300ms), then the shared .dlq.
    const [dead] = await h.collect("orders.dlq", 1, 15_000);
    expect(dead!.properties.headers?.["warren-original-queue"]).toBe(
      seen.get("order.k0")![0]!.queue,
    );
    expect(dead!.properties.headers?.["warren-attempts"]).toBe(3);
  });

  it("lets later messages of a key overtake a failed one by default", async () => {
    h = await createHarness(partitionedTopology(1));
    const handled: number[] = [];
    let failedOnce = false;
    await h.consume<{ seq: number }>("orders", (message) => {
      if (message.seq === 1 && !failedOnce) {
        failedOnce = true;
        throw new Error("first try fails");
      }
      handled.push(message.seq);
    });
    for (let seq = 1; seq <= 3; seq++) await h.publish("events", "order.a", { seq });
    await waitFor(() => handled.length === 3, 15_000, "3 messages");
    expect(handled).toEqual([2, 3, 1]);
  });

  it("holds the partition with ordering: hold until the failed message succeeds, then dead-letters in place after maxAttempts", async () => {
    h = await createHarness(partitionedTopology(1));
    const handled: string[] = [];
    await h.consume<{ seq: number }>(
      "orders",
      (message, context) => {
        handled.push(`${message.seq}@${context.attempt}`);
        if (message.seq === 1 && context.attempt < 2) throw new Error("first try fails");
        if (message.seq === 4) throw new Error("always fails");
      },
      { ordering: "hold" },
    );
    for (let seq = 1; seq <= 5; seq++) await h.publish("events", "order.a", { seq });
    await waitFor(() => handled.includes("5@1"), 15_000, "message 5");
    expect(handled).toEqual(["1@1", "1@2", "2@1", "3@1", "4@1", "4@2", "4@3", "5@1"]);
    const [dead] = await h.collect("orders.dlq", 1, 5_000);
    expect(JSON.parse(dead!.content.toString())).toEqual({ seq: 4 });
    expect(dead!.properties.headers?.["warren-reason"]).toBe("retries-exhausted");
    expect(dead!.properties.headers?.["warren-attempts"]).toBe(3);
    // Nothing went through a retry tier.
    expect(await h.depth("orders.p0.retry.300ms")).toBe(0);
  });

  it("replays dead letters back into the partition of their key, and status lists every partition with the shared .dlq", async () => {
    h = await createHarness(partitionedTopology(2));
    const harness = h;
    const handled: { queue: string; attempt: number; replayed: boolean }[] = [];
    let fail = true;
    await harness.consume<{ n: number }>("orders", (_message, context) => {
      if (fail) throw new NonRetryableError("not yet");
      handled.push({
        queue: context.queue,
        attempt: context.attempt,
        replayed: context.headers["warren-replay-count"] === 1,
      });
    });
    await harness.publish("events", "order.replay-me", { n: 1 });
    await waitFor(async () => (await harness.depth("orders.dlq")) === 1, 15_000, "a dead letter");
    const target = { url: harness.url, managementUrl, queue: "orders" };

    const status = await waitFor(
      async () => {
        const report = await readQueueStatus({ ...target, topology: harness.topology });
        return report.queues.every((q) => q.consumers === 1) ? report : undefined;
      },
      15_000,
      "status with consumers",
    );
    expect(status.queues.map((q) => [q.name, q.deadLetter.name])).toEqual([
      ["orders.p0", "orders.dlq"],
      ["orders.p1", "orders.dlq"],
    ]);
    expect(status.queues.map((q) => q.tiers.map((t) => t.name))).toEqual([
      ["orders.p0.retry.300ms"],
      ["orders.p1.retry.300ms"],
    ]);
    const byNames = await readQueueStatus({ ...target, vhost: harness.vhost });
    expect(byNames.queues.map((q) => [q.name, q.deadLetter.name])).toEqual([
      ["orders.p0", "orders.dlq"],
      ["orders.p1", "orders.dlq"],
    ]);

    fail = false;
    const result = await replayDeadLetters(target);
    expect(result.replayed).toBe(1);
    await waitFor(() => handled.length === 1, 15_000, "the replayed message");
    const [dead] = await inspectDeadLetters({ ...target, limit: 1 }).then((l) => l.messages);
    expect(dead).toBeUndefined();
    expect(handled[0]!.replayed).toBe(true);
    expect(handled[0]!.queue).toMatch(/^orders\.p[01]$/);
  });

  it("refuses concurrency on a partitioned queue", async () => {
    h = await createHarness(partitionedTopology(2));
    const error = await h.consume("orders", () => {}, { concurrency: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsumeError);
    expect((error as ConsumeError).code).toBe("WARREN_INVALID_OPTIONS");
    expect((error as ConsumeError).message).toContain("one handler per partition");
  });
});
