import { execFileSync } from "node:child_process";
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

/** A child process's script: publishes `{ n: 1 }` to `events` and waits for the confirm. */
const PUBLISH_ONE = `
import amqp from "amqplib";
const model = await amqp.connect(process.env.WARREN_TEST_URL);
const channel = await model.createConfirmChannel();
channel.publish("events", "job.created", Buffer.from(JSON.stringify({ n: 1 })), { persistent: true });
await channel.waitForConfirms();
await model.close();
`;

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
  it("takes messages again after a delivery was refused on an idle lane (the broker sent it before the cancel)", async () => {
    // The delivery reaches the client after pause() and before the broker
    // has the cancel: the idle lane hands it back at once, without waiting
    // for anything. That lane used to stay marked busy for ever and never
    // ran another delivery, so a resumed consumer (or a kill switch's probe)
    // left its message unacked on the channel.
    const handled: { n: number; redelivered: boolean }[] = [];
    const consumer = await h.consume<{ n: number }>(Q, (message, ctx) => {
      handled.push({ n: message.n, redelivered: ctx.redelivered });
    });
    // Publish from another process while this one's event loop is blocked,
    // then go on blocking until the broker has surely sent the delivery: it
    // waits unread in the socket while pause() runs.
    execFileSync(process.execPath, ["--input-type=module", "-e", PUBLISH_ONE], {
      env: { ...process.env, WARREN_TEST_URL: h.url },
      timeout: 30_000,
    });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
    await consumer.pause();
    await sleep(300);
    expect(handled).toEqual([]);
    expect(consumer.inFlight).toBe(0);

    consumer.resume();
    await waitFor(
      () => handled.length === 1,
      10_000,
      () => `the message after resume (inFlight ${consumer.inFlight}, handled ${handled.length})`,
    );
    // Redelivered: it did reach the lane while paused and was handed back.
    expect(handled).toEqual([{ n: 1, redelivered: true }]);
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

  it("stays subscribed through quick trips and probes of one message (short cool-down, one lane)", async () => {
    // A probe of one message fills the probe at once: the lane is cancelled
    // while its consume may still be in progress, and a failed probe trips
    // and probes again within milliseconds. A resume arriving during that
    // consume used to be dropped, leaving the lane cancelled while probing.
    // The dependency fails its first 40 calls (not for a while: on an idle
    // machine a timed outage let every message exhaust its attempts, and the
    // switch then rightly kept probing an empty queue).
    let calls = 0;
    const handled = new Set<number>();
    const consumer = await h.consume<{ n: number }>(
      Q,
      (message) => {
        calls++;
        if (calls <= 40) throw new Error("dependency down");
        handled.add(message.n);
      },
      {
        killSwitch: { minMessages: 2, windowMs: 5_000, cooldownMs: 5, probeMessages: 1 },
      },
    );
    const states: string[] = [];
    consumer.on("tripped", () => states.push("tripped"));
    consumer.on("probing", () => states.push("probing"));
    consumer.on("resumed", () => states.push("resumed"));
    for (let n = 0; n < 30; n++) await h.publish("events", "job.created", { n });
    await waitFor(
      async () => handled.size + (await h.depth("work.dlq")) === 30,
      20_000,
      () =>
        `30 messages handled or dead-lettered (handled ${handled.size}; state ${consumer.killSwitchState}; subscribed lanes ${consumer.subscribedLanes}; ${states.length} transitions, last ${states.slice(-3).join(" > ")})`,
    );
    expect(states.filter((s) => s === "probing").length).toBeGreaterThan(2);
    expect(states.at(-1)).toBe("resumed");
    expect(consumer.consuming).toBe(true);
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
