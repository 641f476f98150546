import { describe, expect, it } from "vitest";
import type { DeliveryRuntime } from "../../../src/consumer/handle-delivery.ts";
import { nextHeldAttempt, waitHeld } from "../../../src/consumer/hold.ts";
import type { Verdict } from "../../../src/consumer/verdict.ts";

const tier = { delayMs: 10, queue: "q.retry.10ms" };
const rt = {
  options: { maxUncountedRetries: 2 },
  policy: { queue: "q", maxAttempts: 3, tiers: [tier], deadLetterQueue: "q.dlq" },
} as unknown as DeliveryRuntime<unknown>;
const retry = (nextAttempt: number, failed = true) =>
  ({
    kind: "retry",
    tier,
    nextAttempt,
    error: failed ? new Error("x") : undefined,
  }) as Extract<Verdict, { kind: "retry" }>;

describe("ordering: hold", () => {
  it("runs the next attempt in place, keeps the attempt for a key in progress elsewhere, and caps uncounted retries", () => {
    const state = { uncounted: 0 };
    expect(nextHeldAttempt(rt, retry(2), 1, state)).toBe(2);
    expect(nextHeldAttempt(rt, retry(2, false), 2, state)).toBe(2);
    // Uncounted RetryLaterErrors (same attempt): two allowed, then they count.
    expect(nextHeldAttempt(rt, retry(2), 2, state)).toBe(2);
    expect(nextHeldAttempt(rt, retry(2), 2, state)).toBe(2);
    expect(nextHeldAttempt(rt, retry(2), 2, state)).toBe(3);
    expect(nextHeldAttempt(rt, retry(3), 3, state)).toBeUndefined();
  });

  it("waits the delay, or ends the wait at once when the consumer stops", async () => {
    expect(await waitHeld(5, undefined)).toBe(true);
    const stopping = new AbortController();
    const waiting = waitHeld(60_000, stopping.signal);
    stopping.abort();
    expect(await waiting).toBe(false);
  });
});
