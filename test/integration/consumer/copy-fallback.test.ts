import type { GetMessage } from "amqplib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NonRetryableError } from "../../../src/errors.ts";
import { consumedCount, createHarness, type Harness, waitFor } from "./harness.ts";

// No message may block its queue. A message from another client can carry
// headers that fit its own publish but not warren's copy of it (the copy
// adds warren's headers, and amqplib encodes all properties in a 64 KiB
// buffer). Requeueing such a message puts it back at the head of its queue
// for ever; the runtime publishes a reduced copy instead, and as the last
// resort rejects it so the broker dead-letters it.
let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

/**
 * Publishes with the largest `build(size)` amqplib can still encode, stepping
 * `size` down from `start`: a publish that does not fit throws before
 * anything is written.
 */
async function publishLargest(
  build: (size: number) => Record<string, unknown>,
  start: number,
  properties: Record<string, unknown>,
): Promise<number> {
  for (let size = start; size > 0; size -= 16) {
    try {
      h.channel.publish("events", "job.created", Buffer.from("{}"), {
        persistent: true,
        ...properties,
        headers: build(size),
      });
    } catch {
      continue;
    }
    await h.channel.waitForConfirms();
    return size;
  }
  throw new Error("nothing fits");
}

function appHeaders(count: number): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) headers[`h-${String(i).padStart(4, "0")}`] = "v".repeat(30);
  return headers;
}

describe("a message no full copy can be made of", () => {
  it("is dead-lettered with a reduced copy (application headers dropped) and the queue keeps flowing", async () => {
    const handled: string[] = [];
    await h.consume(
      "work",
      (_message, context) => {
        handled.push(context.messageId ?? "?");
        if (context.messageId === "wide") throw new NonRetryableError("x".repeat(3_000));
      },
      { requeueDelayMs: 50 },
    );
    const count = await publishLargest((n) => appHeaders(n), 1_600, { messageId: "wide" });
    await h.publish("events", "job.created", {}, { messageId: "behind" });
    const [dead] = await h.collect("work.dlq", 1);
    const headers = (dead as GetMessage).properties.headers ?? {};
    expect(headers["warren-reason"]).toBe("non-retryable");
    expect(headers["warren-headers-dropped"]).toBe(count);
    expect(headers["warren-error-stack"]).toBe("");
    expect(String(headers["warren-error-message"]).length).toBe(1_024);
    expect(headers["h-0000"]).toBeUndefined();
    await waitFor(() => handled.includes("behind"), 10_000, "the message behind it");
    expect(await consumedCount(h, "requeued")).toBe(0);
    expect(await consumedCount(h, "dead_lettered")).toBe(1);
  });

  it("is rejected without requeue as the last resort, and the broker moves it to Q.dlq by the queue's dead-letter arguments", async () => {
    const handled: string[] = [];
    await h.consume(
      "work",
      (_message, context) => {
        handled.push(context.messageId ?? "?");
        if (context.messageId === "deep-history") throw new NonRetryableError("y".repeat(2_000));
      },
      { requeueDelayMs: 50 },
    );
    // A well-formed x-death is broker-owned and kept even on a reduced copy;
    // one that fills the whole encoding buffer leaves no room for warren's headers.
    const entry = (i: number, pad: number) => ({
      count: 1,
      reason: "expired",
      queue: `q-${i}-${"q".repeat(200)}`.slice(0, 250),
      exchange: "e".repeat(Math.max(0, Math.min(250, pad))),
      "routing-keys": ["r".repeat(250), "s".repeat(250)],
      time: { "!": "timestamp", value: 1_700_000_000 },
    });
    const xDeath = (size: number) => {
      // ~1 KB per entry; the last one takes the remainder.
      const full = Math.floor(size / 1_000);
      const entries = Array.from({ length: Math.min(full, 63) }, (_, i) => entry(i, 250));
      entries.push(entry(63, size - full * 1_000));
      return { "x-death": entries };
    };
    await publishLargest(xDeath, 66_000, { messageId: "deep-history" });
    await h.publish("events", "job.created", {}, { messageId: "behind" });
    const [dead] = await h.collect("work.dlq", 1);
    const headers = (dead as GetMessage).properties.headers ?? {};
    expect(dead?.properties.messageId).toBe("deep-history");
    expect(headers["warren-reason"]).toBeUndefined();
    const deaths = headers["x-death"] as unknown as { queue: string; reason: string }[];
    expect(deaths[0]).toMatchObject({ queue: "work", reason: "rejected" });
    await waitFor(() => handled.includes("behind"), 10_000, "the message behind it");
    expect(await consumedCount(h, "rejected")).toBe(1);
    expect(await consumedCount(h, "requeued")).toBe(0);
    expect(await h.depth("work")).toBe(0);
  });
});
