/**
 * The relay's Prometheus metrics, on the caller's registry and labelled by
 * table. Several relays in one process (or one registry) share the metric
 * objects instead of registering a name twice.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface RelayMetrics {
  /** Rows waiting to be published. Labels: table. */
  readonly pending: Gauge<"table">;
  /** Age of the oldest pending row, in seconds. Labels: table. */
  readonly oldestPendingSeconds: Gauge<"table">;
  /** Rows kept as failed. Labels: table. */
  readonly failed: Gauge<"table">;
  /** Rows published and confirmed. Labels: table. */
  readonly relayed: Counter<"table">;
  /** Broker refusals of a row (unroutable, nacked), each retried or then failed. Labels: table. */
  readonly refusals: Counter<"table">;
  /** Time from insert (in the caller's transaction) to the broker's confirm, in seconds. Labels: table. */
  readonly lag: Histogram<"table">;
}

const lagBucketsSeconds = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

function shared<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Creates (or finds) the relay metrics on `registry`. */
export function relayMetrics(registry: Registry): RelayMetrics {
  const registers = [registry];
  const labelNames = ["table"] as const;
  return {
    pending: shared(
      registry,
      "warren_outbox_pending",
      () =>
        new Gauge({
          name: "warren_outbox_pending",
          help: "Outbox rows waiting to be published.",
          labelNames,
          registers,
        }),
    ),
    oldestPendingSeconds: shared(
      registry,
      "warren_outbox_oldest_pending_seconds",
      () =>
        new Gauge({
          name: "warren_outbox_oldest_pending_seconds",
          help: "Age of the oldest pending outbox row, in seconds (0 when none).",
          labelNames,
          registers,
        }),
    ),
    failed: shared(
      registry,
      "warren_outbox_failed",
      () =>
        new Gauge({
          name: "warren_outbox_failed",
          help: "Outbox rows kept as failed after maxAttempts broker refusals (see warren outbox failed).",
          labelNames,
          registers,
        }),
    ),
    relayed: shared(
      registry,
      "warren_outbox_relayed_total",
      () =>
        new Counter({
          name: "warren_outbox_relayed_total",
          help: "Outbox rows published and confirmed by the broker.",
          labelNames,
          registers,
        }),
    ),
    refusals: shared(
      registry,
      "warren_outbox_refusals_total",
      () =>
        new Counter({
          name: "warren_outbox_refusals_total",
          help: "Broker refusals (unroutable, nacked) of outbox rows; each is retried with backoff or kept as failed.",
          labelNames,
          registers,
        }),
    ),
    lag: shared(
      registry,
      "warren_outbox_lag_seconds",
      () =>
        new Histogram({
          name: "warren_outbox_lag_seconds",
          help: "Time from an outbox row's insert to the broker's confirm of its message, in seconds.",
          labelNames,
          buckets: lagBucketsSeconds,
          registers,
        }),
    ),
  };
}
