import type { GetMessage } from "amqplib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { MessageContext } from "../../../src/consumer/context.ts";
import { ConsumeError, NonRetryableError } from "../../../src/errors.ts";
import { consumedCount, createHarness, type Harness, sleep, waitFor } from "./harness.ts";

// One row of the outcome table (docs/architecture.md#handler-outcomes) per test, on a work queue with
// tiers of 200 ms and 500 ms and 3 attempts.
const Q = "work";
const DLQ = "work.dlq";
const TIERS = ["work.retry.200ms", "work.retry.500ms"];

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

const consumed = (outcome: string) => consumedCount(h, outcome);

async function expectEmpty(...queues: string[]): Promise<void> {
  for (const queue of queues) expect(await h.depth(queue), queue).toBe(0);
}

function header(message: GetMessage, name: string): unknown {
  return message.properties.headers?.[name];
}

describe("consumer outcomes", () => {
  it("acks a message whose handler resolves, giving it the parsed payload and its context", async () => {
    const seen: [unknown, MessageContext][] = [];
    await h.consume(Q, (message, context) => {
      seen.push([message, context]);
    });
    await h.publish("events", "job.created", { id: 1 }, { messageId: "m-1", correlationId: "c-1" });
    await waitFor(() => seen.length === 1);
    await waitFor(async () => (await consumed("acked")) === 1);
    const [payload, context] = seen[0] ?? [];
    expect(payload).toEqual({ id: 1 });
    expect(context).toMatchObject({
      queue: Q,
      messageId: "m-1",
      correlationId: "c-1",
      exchange: "events",
      routingKey: "job.created",
      attempt: 1,
      redelivered: false,
    });
    expect(context?.signal.aborted).toBe(false);
    await expectEmpty(Q, DLQ, ...TIERS);
  });

  it("handles a message that fails twice on attempt 3, after both tier delays, then acks it", async () => {
    const calls: { attempt: number; at: number; routingKey: string; exchange: string }[] = [];
    await h.consume(Q, (_message, context) => {
      calls.push({
        attempt: context.attempt,
        at: performance.now(),
        routingKey: context.routingKey,
        exchange: context.exchange,
      });
      if (context.attempt < 3) throw new Error(`boom ${context.attempt}`);
    });
    await h.publish("events", "job.created", { id: 2 });
    await waitFor(async () => (await consumed("acked")) === 1, 10_000, "ack on attempt 3");
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = calls as [
      (typeof calls)[0],
      (typeof calls)[0],
      (typeof calls)[0],
    ];
    expect(second.at - first.at).toBeGreaterThanOrEqual(200);
    expect(third.at - second.at).toBeGreaterThanOrEqual(500);
    // The original routing is kept across the trips through the tiers.
    expect(third).toMatchObject({ routingKey: "job.created", exchange: "events" });
    expect(await consumed("retried")).toBe(2);
    await expectEmpty(Q, DLQ, ...TIERS);
    // Retry copies come back to Q only, not to other queues on the exchange.
    expect(await h.depth("audit")).toBe(1);
  });

  it("dead-letters a message that always fails after exactly maxAttempts calls, with its error", async () => {
    let calls = 0;
    await h.consume(Q, () => {
      calls += 1;
      throw new TypeError(`always broken (${calls})`);
    });
    await h.publish("events", "job.failed", { id: 3 }, { messageId: "m-3" });
    const [dead] = await h.collect(DLQ, 1);
    expect(calls).toBe(3);
    expect(dead?.properties.messageId).toBe("m-3");
    expect(JSON.parse(String(dead?.content))).toEqual({ id: 3 });
    const m = dead as GetMessage;
    expect(header(m, "warren-reason")).toBe("retries-exhausted");
    expect(header(m, "warren-error-type")).toBe("TypeError");
    expect(header(m, "warren-error-message")).toBe("always broken (3)");
    expect(String(header(m, "warren-error-stack"))).toContain("TypeError: always broken (3)");
    expect(header(m, "warren-attempts")).toBe(3);
    expect(header(m, "warren-original-queue")).toBe(Q);
    expect(header(m, "warren-original-exchange")).toBe("events");
    expect(header(m, "warren-original-routing-key")).toBe("job.failed");
    const first = Date.parse(String(header(m, "warren-first-failed-at")));
    const last = Date.parse(String(header(m, "warren-failed-at")));
    expect(last - first).toBeGreaterThanOrEqual(700);
    await sleep(50);
    expect(await consumed("dead_lettered")).toBe(1);
    await expectEmpty(Q, DLQ, ...TIERS);
  });

  it("dead-letters at once when the handler throws NonRetryableError", async () => {
    let calls = 0;
    await h.consume(Q, () => {
      calls += 1;
      throw new NonRetryableError("order does not exist");
    });
    await h.publish("events", "job.created", { id: 4 });
    const [dead] = await h.collect(DLQ, 1);
    expect(calls).toBe(1);
    expect(header(dead as GetMessage, "warren-reason")).toBe("non-retryable");
    expect(header(dead as GetMessage, "warren-error-type")).toBe("NonRetryableError");
    expect(header(dead as GetMessage, "warren-attempts")).toBe(1);
    await expectEmpty(Q, ...TIERS);
  });

  it.each([
    ["fails its schema", { id: "not a number" }, "invalid-payload", /id: /],
    ["is not JSON", Buffer.from("{not json"), "undecodable", /not JSON/],
    [
      "is over maxBytes",
      { pad: "x".repeat(300) },
      "too-large",
      /over the consumer's maxBytes of 256/,
    ],
    [
      "has a __proto__ key",
      Buffer.from('{"__proto__":{"polluted":1},"id":1}'),
      "invalid-payload",
      /__proto__/,
    ],
    [
      "has an escaped constructor key",
      Buffer.from('{"\\u0063onstructor":{"prototype":{}},"id":1}'),
      "invalid-payload",
      /constructor/,
    ],
  ])(
    "dead-letters a body that %s without calling the handler",
    async (_what, body, reason, detail) => {
      let calls = 0;
      await h.consume(
        Q,
        () => {
          calls += 1;
        },
        { schema: z.object({ id: z.number() }), maxBytes: 256 },
      );
      await h.publish("events", "job.created", body);
      const [dead] = await h.collect(DLQ, 1);
      expect(calls).toBe(0);
      expect(header(dead as GetMessage, "warren-reason")).toBe(reason);
      expect(String(header(dead as GetMessage, "warren-error-message"))).toMatch(detail);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      await expectEmpty(Q, ...TIERS);
    },
  );

  it("aborts the signal of a handler that times out and retries the message", async () => {
    const aborted: boolean[] = [];
    await h.consume(
      Q,
      async (_message, context) => {
        if (context.attempt === 1) {
          await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
          aborted.push(context.signal.aborted);
          return;
        }
        aborted.push(context.signal.aborted);
      },
      { timeoutMs: 100 },
    );
    await h.publish("events", "job.created", { id: 5 });
    await waitFor(async () => (await consumed("acked")) === 1);
    expect(aborted).toEqual([true, false]);
    expect(await consumed("retried")).toBe(1);
    await expectEmpty(Q, DLQ, ...TIERS);
  });

  it("treats a message without warren headers as attempt 1", async () => {
    const attempts: number[] = [];
    await h.consume(Q, (_m, context) => {
      attempts.push(context.attempt);
    });
    await h.channel.sendToQueue(Q, Buffer.from("{}"), { headers: { other: "x" } });
    await h.channel.waitForConfirms();
    await waitFor(() => attempts.length === 1);
    expect(attempts).toEqual([1]);
  });

  it("requeues the original when its retry copy is unroutable, until the delivery limit dead-letters it", async () => {
    // No tier queue: the mandatory retry copy comes back unroutable.
    await h.channel.deleteQueue(TIERS[0] as string);
    const redelivered: boolean[] = [];
    await h.consume(
      Q,
      (_m, context) => {
        redelivered.push(context.redelivered);
        throw new Error("fails, and its retry copy cannot be published");
      },
      { requeueDelayMs: 50 },
    );
    await h.publish("events", "job.created", { id: 6 }, { messageId: "m-6" });
    // deliveryLimit 3: the broker dead-letters it on the 4th return.
    const [dead] = await h.collect(DLQ, 1);
    expect(redelivered[0]).toBe(false);
    expect(redelivered.slice(1).every(Boolean)).toBe(true);
    expect(redelivered.length).toBe(4);
    expect(dead?.properties.messageId).toBe("m-6");
    const death = (header(dead as GetMessage, "x-death") as { reason: string; queue: string }[])[0];
    expect(death).toMatchObject({ reason: "delivery_limit", queue: Q });
    expect(await consumed("requeued")).toBe(4);
    await expectEmpty(Q);
  });

  it("refuses a queue that is not a work queue of the topology", async () => {
    await expect(h.consume("nope", () => {})).rejects.toThrow(ConsumeError);
    await expect(h.consume("work.dlq", () => {})).rejects.toThrow(
      /not a work queue of the topology/,
    );
  });

  it("runs up to `concurrency` handlers at once", async () => {
    let running = 0;
    let peak = 0;
    await h.consume(
      Q,
      async () => {
        running += 1;
        peak = Math.max(peak, running);
        await sleep(150);
        running -= 1;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 6; i++) await h.publish("events", "job.created", { i });
    await waitFor(async () => (await consumed("acked")) === 6);
    expect(peak).toBe(3);
  });
});
