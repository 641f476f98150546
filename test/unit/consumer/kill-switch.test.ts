import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BUCKETS, FailureWindow } from "../../../src/consumer/failure-window.ts";
import {
  type DeliveryObservation,
  KillSwitch,
  type KillSwitchChange,
  killSwitchSchema,
} from "../../../src/consumer/kill-switch.ts";
import { resolveConsumeOptions } from "../../../src/consumer/options.ts";
import { ErrorCode, NonRetryableError } from "../../../src/errors.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

const ok: DeliveryObservation = { kind: "success" };
const failed: DeliveryObservation = {
  kind: "failure",
  failure: "thrown",
  error: new Error("down"),
};
const nonRetryable: DeliveryObservation = {
  kind: "failure",
  failure: "non-retryable",
  error: new NonRetryableError("bad order"),
};
const invalid: DeliveryObservation = {
  kind: "failure",
  failure: "invalid-payload",
  error: new Error("schema"),
};

describe("FailureWindow", () => {
  it("counts the results of the last windowMs and forgets older ones", () => {
    const window = new FailureWindow(1_000);
    window.record(true, 0);
    window.record(false, 100);
    window.record(true, 600);
    expect(window.counts(600)).toEqual({ total: 3, failures: 2 });
    // At 1 049 ms the first bucket (0-49 ms) has left, the others not.
    expect(window.counts(1_049)).toEqual({ total: 2, failures: 1 });
    expect(window.counts(1_649)).toEqual({ total: 0, failures: 0 });
  });

  it("keeps a fixed number of buckets however many results it records", () => {
    const window = new FailureWindow(1_000);
    for (let at = 0; at < 10_000; at++) window.record(at % 2 === 0, at);
    const { total, failures } = window.counts(9_999);
    // 20 buckets of 50 ms: exactly the last 1 000 ms.
    expect(BUCKETS).toBe(20);
    expect(total).toBe(1_000);
    expect(failures).toBe(500);
  });
});

describe("KillSwitch", () => {
  let now = 0;
  let changes: KillSwitchChange[];
  let updates: number;
  const control = {
    update: () => {
      updates++;
    },
    changed: (change: KillSwitchChange) => {
      changes.push(change);
    },
  };
  const create = (input: Record<string, unknown> = {}) =>
    new KillSwitch(
      killSwitchSchema.parse({ minMessages: 4, windowMs: 1_000, cooldownMs: 500, ...input }),
      control,
      () => now,
    );
  const record = (ks: KillSwitch, observation: DeliveryObservation) => {
    const delivery = {};
    expect(ks.admit(delivery)).toBe(true);
    ks.record(delivery, observation);
  };

  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
    changes = [];
    updates = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("does not trip below minMessages, then trips at the threshold", () => {
    const ks = create({ threshold: 0.5 });
    record(ks, failed);
    record(ks, failed);
    record(ks, failed);
    expect(ks.state).toBe("running");
    record(ks, ok); // 3 of 4 failed: 75 % >= 50 %
    expect(ks.state).toBe("tripped");
    expect(ks.intake).toBe("none");
    expect(changes).toEqual([
      { state: "tripped", failures: 3, total: 4, probeFailed: false, cooldownMs: 500 },
    ]);
    expect(ks.admit({})).toBe(false);
  });

  it("stays running while the rate is under the threshold", () => {
    const ks = create({ threshold: 0.7 });
    for (let i = 0; i < 50; i++) record(ks, i % 2 === 0 ? failed : ok);
    expect(ks.state).toBe("running");
  });

  it("forgets failures older than the window", () => {
    const ks = create({ threshold: 0.5 });
    record(ks, failed);
    record(ks, failed);
    record(ks, failed);
    now = 2_000;
    record(ks, failed); // the three above left the window: 1 result only
    expect(ks.state).toBe("running");
  });

  it("counts neither NonRetryableError nor invalid payloads by default", () => {
    const ks = create({ threshold: 0.5 });
    for (let i = 0; i < 20; i++) record(ks, i % 2 === 0 ? nonRetryable : invalid);
    record(ks, ok);
    expect(ks.state).toBe("running");
  });

  it("takes a countsAsFailure that decides what counts", () => {
    const ks = create({ countsAsFailure: (_error: unknown, kind: string) => kind !== "thrown" });
    for (let i = 0; i < 4; i++) record(ks, failed);
    expect(ks.state).toBe("running");
    for (let i = 0; i < 4; i++) record(ks, invalid);
    expect(ks.state).toBe("tripped");
  });

  it("probes after the cool-down with a bounded number of messages, then resumes", () => {
    const ks = create({ probeMessages: 2 });
    for (let i = 0; i < 4; i++) record(ks, failed);
    vi.advanceTimersByTime(499);
    expect(ks.state).toBe("tripped");
    vi.advanceTimersByTime(1);
    expect(ks.state).toBe("probing");
    expect(ks.intake).toBe("probe");
    const [a, b, c] = [{}, {}, {}];
    expect(ks.admit(a)).toBe(true);
    expect(ks.admit(b)).toBe(true);
    expect(ks.intake).toBe("none"); // two probes out: take no more
    expect(ks.admit(c)).toBe(false);
    ks.record(a, ok);
    expect(ks.state).toBe("probing");
    ks.record(b, ok);
    expect(ks.state).toBe("running");
    expect(ks.intake).toBe("all");
    expect(changes.map((change) => change.state)).toEqual(["tripped", "probing", "resumed"]);
    expect(changes.at(-1)).toEqual({ state: "resumed", by: "probe" });
  });

  it("trips again when a probe fails, and probes again after another cool-down", () => {
    const ks = create({ probeMessages: 3 });
    for (let i = 0; i < 4; i++) record(ks, failed);
    vi.advanceTimersByTime(500);
    const probe = {};
    expect(ks.admit(probe)).toBe(true);
    ks.record(probe, failed);
    expect(ks.state).toBe("tripped");
    expect(changes.at(-1)).toEqual({
      state: "tripped",
      failures: 1,
      total: 1,
      probeFailed: true,
      cooldownMs: 500,
    });
    vi.advanceTimersByTime(500);
    expect(ks.state).toBe("probing");
  });

  it("ignores results of deliveries taken before the trip, and frees a probe slot on a neutral one", () => {
    const ks = create({ probeMessages: 1 });
    const slow = {};
    expect(ks.admit(slow)).toBe(true);
    for (let i = 0; i < 4; i++) record(ks, failed);
    vi.advanceTimersByTime(500);
    ks.record(slow, failed); // started while running: not a probe
    expect(ks.state).toBe("probing");
    const probe = {};
    expect(ks.admit(probe)).toBe(true);
    expect(ks.intake).toBe("none");
    ks.record(probe, nonRetryable); // says nothing: take another probe
    expect(ks.state).toBe("probing");
    expect(ks.intake).toBe("probe");
    const next = {};
    expect(ks.admit(next)).toBe(true);
    ks.record(next, ok);
    expect(ks.state).toBe("running");
  });

  it("resets when an operator resumes, and stop() cancels the cool-down", () => {
    const ks = create();
    for (let i = 0; i < 4; i++) record(ks, failed);
    ks.reset();
    expect(ks.state).toBe("running");
    expect(changes.at(-1)).toEqual({ state: "resumed", by: "operator" });
    for (let i = 0; i < 4; i++) record(ks, failed);
    ks.stop();
    vi.advanceTimersByTime(10_000);
    expect(ks.state).toBe("tripped");
    expect(updates).toBeGreaterThan(0);
  });
});

describe("killSwitch options", () => {
  const policy: RetryPolicy = { queue: "q", maxAttempts: 1, tiers: [], deadLetterQueue: "q.dlq" };

  it("is off by default and filled with defaults when given", () => {
    expect(resolveConsumeOptions(policy, {}).killSwitch).toBeUndefined();
    expect(resolveConsumeOptions(policy, { killSwitch: {} }).killSwitch).toMatchObject({
      threshold: 0.5,
      minMessages: 20,
      windowMs: 60_000,
      cooldownMs: 30_000,
      probeMessages: 3,
    });
  });

  it.each([
    [{ threshold: 0 }, "killSwitch.threshold must be a number greater than 0 and at most 1"],
    [{ threshold: 1.5 }, "killSwitch.threshold"],
    [{ minMessages: 0 }, "killSwitch.minMessages must be an integer >= 1"],
    [{ windowMs: 0.5 }, "killSwitch.windowMs"],
    [{ cooldownMs: -1 }, "killSwitch.cooldownMs"],
    [{ probeMessages: 0 }, "killSwitch.probeMessages"],
    [{ countsAsFailure: "yes" }, "killSwitch.countsAsFailure must be a function"],
  ])("refuses %j with WARREN_INVALID_OPTIONS", (killSwitch, text) => {
    const run = () =>
      resolveConsumeOptions(policy, { killSwitch } as unknown as Parameters<
        typeof resolveConsumeOptions
      >[1]);
    expect(run).toThrow(text);
    try {
      run();
    } catch (error) {
      expect((error as { code: string }).code).toBe(ErrorCode.WARREN_INVALID_OPTIONS);
    }
  });
});
