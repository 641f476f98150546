/**
 * warren's Prometheus metrics (docs/architecture.md#metrics-and-health). They are registered on the
 * caller's `Registry`, never on prom-client's global one, so two clients in
 * one process (or a test) never collide. Without a registry, metrics are
 * still counted on a private one, so code paths never branch on "metrics on".
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What happened to one consumed message. */
export type ConsumeOutcome = "acked" | "retried" | "dead_lettered" | "duplicate" | "requeued";

/** What happened to one publish. */
export type PublishOutcome =
  | "confirmed"
  | "nacked"
  | "returned"
  | "timeout"
  | "rejected"
  | "connection_lost";

export interface WarrenMetrics {
  readonly registry: Registry;
  /** Labels: queue, outcome ({@link ConsumeOutcome}). */
  readonly messagesConsumed: Counter<"queue" | "outcome">;
  /** Handler run time in seconds. Labels: queue, result (`success` | `failure`). */
  readonly handlerDuration: Histogram<"queue" | "result">;
  /** Labels: exchange, outcome ({@link PublishOutcome}). */
  readonly messagesPublished: Counter<"exchange" | "outcome">;
  /** Publish-to-confirm latency in seconds. Labels: exchange. */
  readonly confirmLatency: Histogram<"exchange">;
  /** Publishes written and awaiting their confirm. */
  readonly publishesInFlight: Gauge;
  /** Handlers running now. Labels: queue. */
  readonly handlersInFlight: Gauge<"queue">;
  /** Messages ready in a queue, its retry tiers and its DLQ. Labels: queue. */
  readonly queueDepth: Gauge<"queue">;
  /** 1 while connected. Labels: role (`publisher` | `consumer`). */
  readonly connected: Gauge<"role">;
}

const latencyBucketsSeconds = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Creates warren's metrics on `registry` (a fresh private one when omitted). */
export function createMetrics(registry: Registry = new Registry()): WarrenMetrics {
  const registers = [registry];
  return {
    registry,
    messagesConsumed: new Counter({
      name: "warren_messages_consumed_total",
      help: "Messages consumed, by queue and outcome (acked, retried, dead_lettered, duplicate, requeued).",
      labelNames: ["queue", "outcome"],
      registers,
    }),
    handlerDuration: new Histogram({
      name: "warren_handler_duration_seconds",
      help: "Time spent in message handlers, by queue and result.",
      labelNames: ["queue", "result"],
      buckets: latencyBucketsSeconds,
      registers,
    }),
    messagesPublished: new Counter({
      name: "warren_messages_published_total",
      help: "Publishes, by exchange and outcome (confirmed, nacked, returned, timeout, rejected, connection_lost).",
      labelNames: ["exchange", "outcome"],
      registers,
    }),
    confirmLatency: new Histogram({
      name: "warren_publish_confirm_seconds",
      help: "Time from publish to broker confirm, by exchange.",
      labelNames: ["exchange"],
      buckets: latencyBucketsSeconds,
      registers,
    }),
    publishesInFlight: new Gauge({
      name: "warren_publishes_in_flight",
      help: "Publishes sent and awaiting their broker confirm.",
      registers,
    }),
    handlersInFlight: new Gauge({
      name: "warren_handlers_in_flight",
      help: "Message handlers running now, by queue.",
      labelNames: ["queue"],
      registers,
    }),
    queueDepth: new Gauge({
      name: "warren_queue_depth",
      help: "Messages ready in a queue (work queue, retry tiers and dead-letter queue).",
      labelNames: ["queue"],
      registers,
    }),
    connected: new Gauge({
      name: "warren_connected",
      help: "1 while the connection of this role is open.",
      labelNames: ["role"],
      registers,
    }),
  };
}
