/**
 * Drives real traffic through a client (successes, retries, a timeout, dead
 * letters of three reasons, a duplicate) and checks every warren series as
 * Prometheus scrapes it from `/metrics`, plus the log fields of message-level
 * lines and the named checks of `/readyz`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { NonRetryableError } from "../../../src/errors.ts";
import { createMemoryIdempotencyStore } from "../../../src/idempotency/memory-store.ts";
import { type HealthServer, serveHealth } from "../../../src/observability/health.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { randomName } from "../../support/names.ts";
import { parsePrometheusText, type Scrape, sampleValue } from "../../support/prometheus.ts";
import {
  createVhost,
  deleteVhost,
  managementUrl,
  vhostUrl,
  waitFor,
  workTopology,
} from "../consumer/harness.ts";

type Job = { kind: "ok" | "flaky" | "fail" | "fatal" | "slow"; n: number };

const vhost = randomName("warren-metrics");
const url = vhostUrl(vhost);
const registry = new Registry();
const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: "debug" },
  { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
);
let warren: Warren;
let health: HealthServer;
const runs = new Map<string, number>();

async function scrape(): Promise<Scrape> {
  const response = await fetch(`${health.url}/metrics`);
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

beforeAll(async () => {
  await createVhost(vhost);
  const topology = compileTopology(resolveTopology(workTopology(vhost)));
  await applyTopology(topology, { url, managementUrl });
  warren = await connect({ url, topology, registry, logger, publishExchange: "events" });
  health = await serveHealth({ registry, readiness: () => warren.readiness(), port: 0 });
});

afterAll(async () => {
  await health?.close();
  await warren?.close();
  await deleteVhost(vhost);
});

describe("warren's metrics over /metrics", () => {
  it("counts every outcome of real traffic, by queue, tier and reason", async () => {
    await warren.consume<Job>(
      "work",
      async (job, context) => {
        const key = `${job.kind}-${job.n}`;
        runs.set(key, (runs.get(key) ?? 0) + 1);
        context.logger.info("handling");
        if (job.kind === "fatal") throw new NonRetryableError("cannot ever work");
        if (job.kind === "fail") throw new Error("always fails");
        if (job.kind === "flaky" && context.attempt === 1) throw new Error("first try fails");
        if (job.kind === "slow" && context.attempt === 1) {
          await sleep(600, undefined, { signal: context.signal });
        }
      },
      {
        concurrency: 2,
        timeoutMs: 300,
        depthIntervalMs: 200,
        idempotency: { store: createMemoryIdempotencyStore() },
      },
    );

    for (let n = 0; n < 3; n++) await warren.publish("job.ok", { kind: "ok", n });
    await warren.publish("job.ok", { kind: "ok", n: 9 }, { messageId: "dup-1" });
    await warren.publish("job.ok", { kind: "ok", n: 9 }, { messageId: "dup-1" });
    await warren.publish("job.flaky", { kind: "flaky", n: 0 });
    await warren.publish("job.fail", { kind: "fail", n: 0 }, { correlationId: "order-42" });
    await warren.publish("job.fatal", { kind: "fatal", n: 0 });
    await warren.publish("job.slow", { kind: "slow", n: 0 });
    // Not JSON, from a plain client (with a timestamp, as most clients set).
    const raw = await amqp.connect(url);
    const channel = await raw.createConfirmChannel();
    channel.publish("events", "job.raw", Buffer.from("not json"), {
      timestamp: Math.floor(Date.now() / 1000),
      messageId: "raw-1",
    });
    await channel.waitForConfirms();
    await raw.close();

    const consumed = (outcome: string, s: Scrape) =>
      sampleValue(s, "warren_messages_consumed_total", { queue: "work", outcome }) ?? 0;
    let last: Scrape | undefined;
    const settled = await waitFor(
      async () => {
        const s = await scrape();
        const done =
          consumed("acked", s) === 6 &&
          consumed("dead_lettered", s) === 3 &&
          consumed("duplicate", s) === 1 &&
          sampleValue(s, "warren_queue_depth", { queue: "work.dlq" }) === 3;
        last = s;
        return done ? s : undefined;
      },
      20_000,
      "6 acked, 3 dead-lettered, 1 duplicate and work.dlq depth 3",
    ).catch((error: unknown) => {
      const seen = last?.samples.filter((x) => /consumed|depth|dead_letters/.test(x.name));
      throw new Error(
        `${String(error)}; last scrape: ${JSON.stringify(seen)}; runs: ${JSON.stringify([...runs])}`,
      );
    });
    const s = settled;
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(s, name, labels);

    // Outcomes: ok×3, dup-1 once, flaky and slow on their 2nd attempt.
    expect(consumed("acked", s)).toBe(6);
    // flaky 1, fail 2 (then exhausted), slow 1 (timed out).
    expect(consumed("retried", s)).toBe(4);
    expect(consumed("dead_lettered", s)).toBe(3);
    expect(consumed("duplicate", s)).toBe(1);
    expect(consumed("requeued", s)).toBe(0);

    expect(v("warren_retries_total", { queue: "work", tier: "200ms" })).toBe(3);
    expect(v("warren_retries_total", { queue: "work", tier: "500ms" })).toBe(1);
    expect(v("warren_dead_letters_total", { queue: "work", reason: "retries-exhausted" })).toBe(1);
    expect(v("warren_dead_letters_total", { queue: "work", reason: "non-retryable" })).toBe(1);
    expect(v("warren_dead_letters_total", { queue: "work", reason: "undecodable" })).toBe(1);
    expect(v("warren_dead_letters_total", { queue: "work", reason: "invalid-payload" })).toBe(0);
    expect(v("warren_dead_letters_total", { queue: "work", reason: "too-large" })).toBe(0);
    expect(v("warren_handler_timeouts_total", { queue: "work" })).toBe(1);

    // Handler runs (timed through the idempotency guard, so the duplicate's
    // guard check counts as a success): ok×3 + dup-1 twice + flaky#2 +
    // slow#2; failures flaky#1 + fail×3 + fatal + slow#1. The undecodable
    // one never reached the handler.
    expect(v("warren_handler_duration_seconds_count", { queue: "work", result: "success" })).toBe(
      7,
    );
    expect(v("warren_handler_duration_seconds_count", { queue: "work", result: "failure" })).toBe(
      6,
    );
    // Every delivery: 3 ok, 2 dup, 2 flaky, 3 fail, 1 fatal, 2 slow, 1 raw.
    expect(v("warren_message_age_seconds_count", { queue: "work" })).toBe(14);
    // The retry copies keep the publish timestamp: their tier waits count
    // (flaky 0.2 s, fail 0.2 + 0.5 s twice counted, slow 0.3 + 0.2 s).
    expect(v("warren_message_age_seconds_sum", { queue: "work" })).toBeGreaterThanOrEqual(1.5);
    expect(v("warren_message_age_seconds_bucket", { queue: "work", le: "+Inf" })).toBe(14);

    expect(v("warren_handlers_in_flight", { queue: "work" })).toBe(0);
    expect(v("warren_consumers", { queue: "work" })).toBe(2);
    expect(v("warren_queue_consumers", { queue: "work" })).toBe(2);
    expect(v("warren_queue_depth", { queue: "work" })).toBe(0);
    expect(v("warren_queue_depth", { queue: "work.retry.200ms" })).toBe(0);
    expect(v("warren_queue_depth", { queue: "work.retry.500ms" })).toBe(0);
    expect(v("warren_queue_ready_per_consumer", { queue: "work" })).toBe(0);

    // 9 publishes to "events"; 7 copies (4 retries, 3 dead letters) to "".
    expect(v("warren_messages_published_total", { exchange: "events", outcome: "confirmed" })).toBe(
      9,
    );
    expect(v("warren_messages_published_total", { exchange: "", outcome: "confirmed" })).toBe(7);
    expect(v("warren_publish_confirm_seconds_count", { exchange: "events" })).toBe(9);
    expect(v("warren_publish_confirm_seconds_count", { exchange: "" })).toBe(7);
    expect(v("warren_publishes_in_flight")).toBe(0);
    expect(v("warren_publisher_blocked")).toBe(0);
    expect(v("warren_connected", { role: "publisher" })).toBe(1);
    expect(v("warren_connected", { role: "consumer" })).toBe(1);
    expect(runs.get("ok-9")).toBe(1);
  });

  it("counts publishes written and awaiting their confirm in warren_publishes_in_flight", async () => {
    const gauge = registry.getSingleMetric("warren_publishes_in_flight");
    // Routed nowhere and not mandatory: confirmed without reaching a consumer.
    const publishes = Array.from({ length: 20 }, (_, n) =>
      warren.publish("nowhere.in-flight", { n }, { mandatory: false }),
    );
    // Read in the same tick: all 20 are written and none can be confirmed yet.
    // (prom-client hands out its live value objects: read the number at once.)
    const during = (await gauge?.get())?.values[0]?.value;
    await Promise.all(publishes);
    const after = (await gauge?.get())?.values[0]?.value;
    expect(during).toBe(20);
    expect(after).toBe(0);
  });

  it("puts messageId, correlationId, queue and attempt on every message-level log line", () => {
    const messageLines = logLines.filter((line) => "messageId" in line);
    expect(messageLines.length).toBeGreaterThan(10);
    for (const line of messageLines) {
      expect(line.queue).toBe("work");
      expect(typeof line.attempt).toBe("number");
    }
    const failing = messageLines.filter((line) => line.msg === "dead-lettering message");
    const withCorrelation = failing.filter((line) => line.correlationId === "order-42");
    expect(withCorrelation).toHaveLength(1);
    expect(withCorrelation[0]).toMatchObject({ attempt: 3, reason: "retries-exhausted" });
    // The handler's own logger carries the same fields.
    const handled = logLines.filter((line) => line.msg === "handling");
    expect(handled.length).toBe(12);
    expect(handled.filter((line) => line.correlationId === "order-42")).toHaveLength(3);
    for (const line of handled) expect(line).toHaveProperty("messageId");
  });

  it("reports the publisher and each consumer by name on /readyz", async () => {
    const response = await fetch(`${health.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ready: true,
      reasons: [],
      checks: [
        { name: "publisher", ready: true },
        { name: "consumer:work", ready: true },
      ],
    });
  });
});
