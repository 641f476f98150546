import { describe, expect, it } from "vitest";
import { formatDelay, parseDuration } from "../../../src/topology/duration.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["0s", 0],
    [1500, 1500],
    [0, 0],
  ] as const)("reads %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    [
      "10 sec",
      '"10 sec" is not a duration; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h',
    ],
    [
      "1.5s",
      '"1.5s" is not a duration; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h',
    ],
    [
      "500",
      '"500" is not a duration; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h',
    ],
    ["-5s", '"-5s" is negative; a duration is 0 or more'],
    [-1, "-1 is negative; a duration is 0 or more"],
    [
      2.5,
      "2.5 is not a whole number of milliseconds; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h",
    ],
  ] as const)("refuses %j", (input, message) => {
    expect(() => parseDuration(input)).toThrow(message);
  });
});

describe("formatDelay", () => {
  it.each([
    [500, "500ms"],
    [1000, "1s"],
    [1500, "1500ms"],
    [10_000, "10s"],
    [90_000, "90s"],
    [60_000, "1m"],
    [3_600_000, "1h"],
    [5_400_000, "90m"],
    [0, "0ms"],
  ])("spells %d ms as %s", (ms, text) => {
    expect(formatDelay(ms)).toBe(text);
  });

  it("round-trips through parseDuration", () => {
    for (const ms of [1, 999, 1000, 61_000, 7_200_000]) {
      expect(parseDuration(formatDelay(ms))).toBe(ms);
    }
  });
});
