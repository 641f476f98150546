import { describe, expect, it } from "vitest";
import { backoffDefaults, backoffDelayMs } from "../../../src/connection/backoff.ts";

describe("backoffDelayMs", () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 };

  it("grows exponentially from initialDelayMs, with half of each step random", () => {
    // random() = 0 gives the fixed half, random() → 1 the whole step.
    expect([0, 1, 2, 3].map((a) => backoffDelayMs(a, options, () => 0))).toEqual([
      50, 100, 200, 400,
    ]);
    expect([0, 1, 2, 3].map((a) => backoffDelayMs(a, options, () => 1))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it("never exceeds maxDelayMs, however many attempts failed", () => {
    expect(backoffDelayMs(4, options, () => 1)).toBe(1_000);
    expect(backoffDelayMs(60, options, () => 1)).toBe(1_000);
    expect(backoffDelayMs(5_000, options, () => 0)).toBe(500);
  });

  it("spreads delays over [step/2, step] with a real random source", () => {
    for (let i = 0; i < 1_000; i++) {
      const delay = backoffDelayMs(2, options);
      expect(delay).toBeGreaterThanOrEqual(200);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });

  it("treats a negative attempt as the first, and a multiplier of 1 as a constant step", () => {
    expect(backoffDelayMs(-3, options, () => 0)).toBe(50);
    const constant = { initialDelayMs: 300, maxDelayMs: 300, multiplier: 1 };
    expect([0, 5, 50].map((a) => backoffDelayMs(a, constant, () => 1))).toEqual([300, 300, 300]);
  });

  it("defaults to 100 ms doubling up to 10 s", () => {
    expect(backoffDefaults).toEqual({ initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2 });
    expect(Object.isFrozen(backoffDefaults)).toBe(true);
    expect(backoffDelayMs(0, undefined, () => 1)).toBe(100);
    expect(backoffDelayMs(20, undefined, () => 1)).toBe(10_000);
  });
});
