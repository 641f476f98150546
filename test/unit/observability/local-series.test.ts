/**
 * The locally counted series of observability/local-series.ts: what a read
 * of the registry sees matches what going straight to prom-client would
 * have shown, for counts, a gauge and histogram observations.
 */
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LocalObservations } from "../../../src/observability/local-series.ts";
import { createMetrics } from "../../../src/observability/metrics.ts";

async function sample(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as {
    metricName?: string;
    labels: Record<string, string | number>;
    value: number;
  }[];
  return (suffix: string, extra: Record<string, string | number> = {}) =>
    values.find(
      (v) =>
        (v.metricName ?? name) === `${name}${suffix}` &&
        Object.entries({ ...labels, ...extra }).every(([k, x]) => v.labels[k] === x),
    )?.value;
}

describe("local series", () => {
  it("folds histogram observations in when the registry is read", async () => {
    const metrics = createMetrics(new Registry());
    const latency = metrics.local.observations(
      metrics.confirmLatency.labels({ exchange: "orders" }),
    );
    latency.observe(0.002);
    latency.observe(0.2);
    latency.observe(3);
    const read = await sample(metrics.registry, "warren_publish_confirm_seconds", {
      exchange: "orders",
    });
    expect(read("_count")).toBe(3);
    expect(read("_sum")).toBeCloseTo(3.202);
    expect(read("_bucket", { le: 0.25 })).toBe(2);
    // Read twice: nothing is counted again.
    const again = await sample(metrics.registry, "warren_publish_confirm_seconds", {
      exchange: "orders",
    });
    expect(again("_count")).toBe(3);
  });

  it("folds a full buffer at once, so memory stays bounded without reads", () => {
    const seen: number[] = [];
    const local = new LocalObservations({ observe: (v) => seen.push(v) });
    for (let i = 0; i < LocalObservations.capacity - 1; i++) local.observe(i);
    expect(seen).toHaveLength(0);
    local.observe(-1);
    expect(seen).toHaveLength(LocalObservations.capacity);
    expect(seen.at(-1)).toBe(-1);
    local.observe(7);
    local.flush();
    expect(seen.at(-1)).toBe(7);
    local.flush();
    expect(seen).toHaveLength(LocalObservations.capacity + 1);
    // prom-client would throw on these at the fold; they are left out instead.
    local.observe(Number.NaN);
    local.observe(Number.POSITIVE_INFINITY);
    local.flush();
    expect(seen).toHaveLength(LocalObservations.capacity + 1);
  });

  it("keeps a locally counted gauge exact through increments and decrements", async () => {
    const metrics = createMetrics(new Registry());
    const inFlight = metrics.local.count(metrics.publishesInFlight);
    inFlight.inc();
    inFlight.inc();
    inFlight.dec();
    expect((await sample(metrics.registry, "warren_publishes_in_flight"))("")).toBe(1);
    inFlight.dec();
    expect((await sample(metrics.registry, "warren_publishes_in_flight"))("")).toBe(0);
  });
});
