import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../../src/client.ts";
import type { Consumer } from "../../../src/consumer/consume.ts";
import type { KillSwitchChange } from "../../../src/consumer/kill-switch.ts";
import { NonRetryableError } from "../../../src/errors.ts";
import { serveHealth } from "../../../src/observability/health.ts";
import { createHarness, type Harness, logger, sleep, waitFor } from "./harness.ts";

// Pause, resume and the kill switch on a work queue with tiers of 200 ms and
// 500 ms and 3 attempts. The long scenario (a dependency down for 10 s) is
// test/reliability/consumer-dependency-outage.test.ts.
const Q = "work";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await h.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([key, expected]) => v.labels[key] === expected),
  );
  return value?.value ?? 0;
}

describe("consumer pause and resume", () => {
  it("leaves messages in the queue while paused and handles them after resume()", async () => {
    const handled: number[] = [];
    const consumer = await h.consume<{ n: number }>(Q, (message) => {
      handled.push(message.n);
    });
    const events: string[] = [];
    consumer.on("paused", () => events.push("paused"));
    consumer.on("resumed", (change) => events.push(`resumed by ${change.by}`));

    await consumer.pause();
    expect(consumer.consuming).toBe(false);
    expect(consumer.pausedReason).toBe(`${Q}: paused by an operator`);
    for (let n = 0; n < 5; n++) await h.publish("events", "job.created", { n });
    await sleep(500);
    expect(handled).toEqual([]);
    expect(await h.depth(Q)).toBe(5);

    consumer.resume();
    await waitFor(() => handled.length === 5, 10_000, "5 messages after resume");
    expect(handled.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(consumer.consuming).toBe(true);
    expect(consumer.pausedReason).toBeUndefined();
    expect(events).toEqual(["paused", "resumed by operator"]);
  });
});

describe("kill switch", () => {
  it("trips on failures, keeps the rest in the queue, probes and resumes; events and metrics follow", async () => {
    let down = true;
    const calls: number[] = [];
    let startedWhileTripped = 0;
    const consumer: Consumer = await h.consume<{ n: number }>(
      Q,
      (message) => {
        calls.push(message.n);
        if (consumer.killSwitchState === "tripped") startedWhileTripped++;
        if (down) throw new Error("dependency down");
      },
      {
        killSwitch: {
          threshold: 0.5,
          minMessages: 4,
          windowMs: 5_000,
          cooldownMs: 800,
          probeMessages: 2,
        },
      },
    );
    const changes: KillSwitchChange[] = [];
    consumer.on("tripped", (change) => changes.push(change));
    consumer.on("probing", (change) => changes.push(change));
    consumer.on("resumed", (change) => changes.push(change));

    for (let n = 0; n < 30; n++) await h.publish("events", "job.created", { n });
    await waitFor(() => changes[0]?.state === "tripped", 10_000, "the trip");
    expect(changes[0]).toMatchObject({
      state: "tripped",
      failures: 4,
      total: 4,
      probeFailed: false,
    });
    expect(consumer.killSwitchState).toBe("tripped");
    expect(consumer.pausedReason).toMatch(/kill switch tripped/);
    expect(await metricValue("warren_kill_switch_state", { queue: Q, state: "tripped" })).toBe(1);
    // Only the four that tripped it ran before the first probe.
    expect(calls.length).toBe(4);

    // The first probe fails (still down): tripped again.
    await waitFor(
      () => changes.some((c) => c.state === "tripped" && c.probeFailed),
      10_000,
      "a failed probe",
    );
    expect(changes.slice(0, 3).map((c) => c.state)).toEqual(["tripped", "probing", "tripped"]);

    down = false;
    await waitFor(() => changes.at(-1)?.state === "resumed", 15_000, "the resume");
    expect(changes.at(-1)).toEqual({ state: "resumed", by: "probe" });
    await waitFor(
      async () => (await h.depth(Q)) === 0 && consumer.inFlight === 0,
      15_000,
      "an empty queue",
    );
    await waitFor(async () => (await h.depth(Q)) === 0, 5_000, "retried copies back and handled");
    expect(
      await metricValue("warren_kill_switch_transitions_total", { queue: Q, state: "tripped" }),
    ).toBe(2);
    expect(
      await metricValue("warren_kill_switch_transitions_total", { queue: Q, state: "probing" }),
    ).toBe(2);
    expect(
      await metricValue("warren_kill_switch_transitions_total", { queue: Q, state: "resumed" }),
    ).toBe(1);
    expect(await metricValue("warren_kill_switch_state", { queue: Q, state: "running" })).toBe(1);
    expect(await h.depth("work.dlq")).toBe(0);
    expect(startedWhileTripped).toBe(0);
  });

  it("does not count NonRetryableError or invalid payloads toward the trip", async () => {
    const consumer = await h.consume(
      Q,
      () => {
        throw new NonRetryableError("bad order");
      },
      { killSwitch: { minMessages: 3, windowMs: 5_000 } },
    );
    for (let n = 0; n < 5; n++) await h.publish("events", "job.created", { n });
    for (let n = 0; n < 5; n++) await h.publish("events", "job.created", Buffer.from("not json"));
    await waitFor(async () => (await h.depth("work.dlq")) === 10, 10_000, "10 dead letters");
    expect(consumer.killSwitchState).toBe("running");
  });

  it("reports a tripped consumer on /readyz without making the process unready", async () => {
    const warren = await connect({ url: h.url, topology: h.topology, logger });
    const health = await serveHealth({
      registry: warren.metrics.registry,
      readiness: () => warren.readiness(),
      port: 0,
    });
    try {
      const consumer = await warren.consume(
        Q,
        () => {
          throw new Error("dependency down");
        },
        { killSwitch: { minMessages: 2, cooldownMs: 60_000 } },
      );
      for (let n = 0; n < 2; n++) await h.publish("events", "job.created", { n });
      await waitFor(() => consumer.killSwitchState === "tripped", 10_000, "the trip");
      const response = await fetch(`${health.url}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        ready: true,
        reasons: [],
        checks: [
          { name: "publisher", ready: true },
          {
            name: `consumer:${Q}`,
            ready: true,
            degraded: `${Q}: kill switch tripped, waiting to probe`,
          },
        ],
        degraded: [`${Q}: kill switch tripped, waiting to probe`],
      });
      consumer.resume();
      await waitFor(() => consumer.consuming, 5_000, "subscribed again");
      expect(warren.readiness()).toEqual({
        ready: true,
        reasons: [],
        checks: [
          { name: "publisher", ready: true },
          { name: `consumer:${Q}`, ready: true },
        ],
      });
    } finally {
      await health.close();
      await warren.close();
    }
  });
});
