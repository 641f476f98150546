import { describe, expect, it } from "vitest";
import { NackStreak } from "../../../src/publisher/nack-streak.ts";

describe("NackStreak", () => {
  it("says a channel is stuck after nacks only, for the window and the minimum count", () => {
    const streak = new NackStreak(2_000, 10);
    for (let i = 0; i < 9; i++) expect(streak.record(true, i * 1_000)).toBe(false);
    // The 10th nack, 9 s after the first.
    expect(streak.record(true, 9_000)).toBe(true);
    // It starts over once it has said so.
    expect(streak.record(true, 9_100)).toBe(false);
  });

  it("needs the whole window, however many nacks come", () => {
    const streak = new NackStreak(2_000, 10);
    for (let i = 0; i < 100; i++) expect(streak.record(true, i)).toBe(false);
  });

  it("starts over at any ack", () => {
    const streak = new NackStreak(2_000, 10);
    for (let i = 0; i < 9; i++) streak.record(true, i * 1_000);
    expect(streak.record(false, 9_500)).toBe(false);
    expect(streak.record(true, 10_000)).toBe(false);
    for (let i = 1; i < 9; i++) expect(streak.record(true, 10_000 + i * 1_000)).toBe(false);
    expect(streak.record(true, 20_000)).toBe(true);
  });
});
