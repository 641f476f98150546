import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { consumedCount, createHarness, type Harness, sleep, waitFor } from "./harness.ts";

// `concurrency` bounds the handlers that run, also when a handler ignores
// its AbortSignal: the lane stays occupied until the handler really settles,
// even though its message was already retried at the deadline.
let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

async function metricValue(name: string): Promise<number> {
  const metric = (await h.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

describe("concurrency with handlers that ignore their signal", () => {
  it("never runs more handlers than `concurrency`, counts the overruns and retries their messages", async () => {
    let running = 0;
    let peak = 0;
    const attempts: number[] = [];
    await h.consume(
      "work",
      async (_message, context) => {
        attempts.push(context.attempt);
        running++;
        peak = Math.max(peak, running);
        try {
          // Ignores context.signal on the first attempt, runs past timeoutMs.
          if (context.attempt === 1) await sleep(700);
        } finally {
          running--;
        }
      },
      { concurrency: 2, timeoutMs: 150 },
    );
    for (let i = 0; i < 6; i++)
      await h.publish("events", "job.created", { i }, { messageId: `m-${i}` });
    await waitFor(async () => (await consumedCount(h, "acked")) === 6, 30_000, "6 acks");
    expect(peak).toBe(2);
    expect(await consumedCount(h, "retried")).toBe(6);
    expect(await metricValue("warren_handlers_overrun_total")).toBe(6);
    await waitFor(
      async () => (await metricValue("warren_handlers_in_flight")) === 0,
      5_000,
      "no handler running",
    );
    expect(attempts.filter((a) => a === 1)).toHaveLength(6);
  });
});
