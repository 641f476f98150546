/**
 * warren's Prometheus metrics (docs/architecture.md#metrics-and-health). They are registered on the
 * caller's `Registry`, never on prom-client's global one, so two clients in
 * one process (or a test) never collide. Without a registry, metrics are
 * still counted on a private one, so code paths never branch on "metrics on".
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { LocalSeries } from "./local-series.ts";

/** What happened to one consumed message. */
/**
 * What happened to one consumed message. `rejected`: no copy of it could be
 * published, so it was rejected without requeue and the broker moved it to
 * `Q.dlq` through the queue's own dead-letter arguments.
 */
export type ConsumeOutcome =
  | "acked"
  | "retried"
  | "dead_lettered"
  | "duplicate"
  | "requeued"
  | "rejected";

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
  /** Handlers running now (overrunning ones included). Labels: queue. */
  readonly handlersInFlight: Gauge<"queue">;
  /**
   * Handlers that ran past their `timeoutMs` and kept running after their
   * signal was aborted; each held its lane until it settled. Labels: queue.
   */
  readonly handlersOverrun: Counter<"queue">;
  readonly staleSubscriptions: Counter<"queue">;
  /** Messages ready in a queue, its retry tiers and its DLQ. Labels: queue. */
  readonly queueDepth: Gauge<"queue">;
  /** 1 while connected. Labels: role (`publisher` | `consumer`). */
  readonly connected: Gauge<"role">;
  /**
   * Seconds from a message's publish timestamp to the start of its handler
   * (retry copies keep the original timestamp, so their wait counts). Labels: queue.
   */
  readonly messageAge: Histogram<"queue">;
  /** Subscriptions (lanes) this process holds on a queue. Labels: queue. */
  readonly consumers: Gauge<"queue">;
  /** Consumers of a queue as the broker counts them (every process). Labels: queue. */
  readonly brokerConsumers: Gauge<"queue">;
  /** Ready messages per broker-side consumer (ready when there is none). Labels: queue. */
  readonly readyPerConsumer: Gauge<"queue">;
  /** Handlers that ran past their `timeoutMs`. Labels: queue. */
  readonly handlerTimeouts: Counter<"queue">;
  /** Retry copies published. Labels: queue, tier (the tier's delay, e.g. `10s`). */
  readonly retries: Counter<"queue" | "tier">;
  /** Dead-letter copies published. Labels: queue, reason (`warren-reason`). */
  readonly deadLetters: Counter<"queue" | "reason">;
  /** 1 while the broker blocks the publisher connection (resource alarm). */
  readonly publisherBlocked: Gauge;
  /**
   * 1 for the kill switch state a consumer is in, 0 for the others. Labels:
   * queue, state (`running` | `tripped` | `probing`).
   */
  readonly killSwitchState: Gauge<"queue" | "state">;
  /** Kill switch state changes. Labels: queue, state entered (`tripped` | `probing` | `resumed`). */
  readonly killSwitchTransitions: Counter<"queue" | "state">;
  /**
   * @internal Live subscription counts read at scrape time by `consumers`;
   * each running consumer adds itself and removes itself on close.
   */
  readonly consumerSources: Set<ConsumerSource>;
  /**
   * @internal Hot-path series counted locally and folded into
   * `messagesConsumed`, `handlersInFlight` and `messagesPublished` when
   * metrics are read (local-series.ts).
   */
  readonly local: LocalSeries;
}

/** @internal What the `warren_consumers` gauge reads from a running consumer. */
export interface ConsumerSource {
  readonly queue: string;
  /** Lanes subscribed now. */
  readonly subscribedLanes: number;
}

const latencyBucketsSeconds = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Waits from seconds (fast queues) to hours (a backlog of slow jobs). */
const ageBucketsSeconds = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600,
];

/** Creates warren's metrics on `registry` (a fresh private one when omitted). */
export function createMetrics(registry: Registry = new Registry()): WarrenMetrics {
  const registers = [registry];
  const consumerSources = new Set<ConsumerSource>();
  const local = new LocalSeries();
  // Folds the locally counted deltas in before prom-client reads a metric.
  const collect = () => local.flush();
  return {
    consumerSources,
    local,
    registry,
    messagesConsumed: new Counter({
      name: "warren_messages_consumed_total",
      help: "Messages consumed, by queue and outcome (acked, retried, dead_lettered, duplicate, requeued, rejected).",
      labelNames: ["queue", "outcome"],
      registers,
      collect,
    }),
    handlerDuration: new Histogram({
      name: "warren_handler_duration_seconds",
      help: "Time spent in message handlers, by queue and result.",
      labelNames: ["queue", "result"],
      buckets: latencyBucketsSeconds,
      registers,
      collect,
    }),
    messagesPublished: new Counter({
      name: "warren_messages_published_total",
      help: "Publishes, by exchange and outcome (confirmed, nacked, returned, timeout, rejected, connection_lost).",
      labelNames: ["exchange", "outcome"],
      registers,
      collect,
    }),
    confirmLatency: new Histogram({
      name: "warren_publish_confirm_seconds",
      help: "Time from publish to broker confirm, by exchange.",
      labelNames: ["exchange"],
      buckets: latencyBucketsSeconds,
      registers,
      collect,
    }),
    publishesInFlight: new Gauge({
      name: "warren_publishes_in_flight",
      help: "Publishes sent and awaiting their broker confirm.",
      registers,
      collect,
    }),
    handlersInFlight: new Gauge({
      name: "warren_handlers_in_flight",
      help: "Message handlers running now, by queue.",
      labelNames: ["queue"],
      registers,
      collect,
    }),
    handlersOverrun: new Counter({
      name: "warren_handlers_overrun_total",
      help: "Handlers still running after their timeout aborted them, by queue; each holds its lane until it settles.",
      labelNames: ["queue"],
      registers,
    }),
    staleSubscriptions: new Counter({
      name: "warren_consumer_stale_subscriptions_total",
      help: "Consumer subscriptions the broker had forgotten without a cancel notification (queue deleted), subscribed again; by queue.",
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
    killSwitchState: new Gauge({
      name: "warren_kill_switch_state",
      help: "1 for the kill switch state a consumer is in (running, tripped, probing), 0 for the others.",
      labelNames: ["queue", "state"],
      registers,
    }),
    killSwitchTransitions: new Counter({
      name: "warren_kill_switch_transitions_total",
      help: "Kill switch state changes, by queue and state entered (tripped, probing, resumed).",
      labelNames: ["queue", "state"],
      registers,
    }),
    messageAge: new Histogram({
      name: "warren_message_age_seconds",
      help: "Seconds from a message's publish timestamp to the start of its handler, by queue (retry copies keep the original timestamp).",
      labelNames: ["queue"],
      buckets: ageBucketsSeconds,
      registers,
      collect,
    }),
    consumers: new Gauge({
      name: "warren_consumers",
      help: "Subscriptions (one per concurrency lane) this process holds, by queue.",
      labelNames: ["queue"],
      registers,
      // Read at scrape time: nothing to update on the delivery path.
      collect() {
        this.reset();
        for (const source of consumerSources)
          this.inc({ queue: source.queue }, source.subscribedLanes);
      },
    }),
    brokerConsumers: new Gauge({
      name: "warren_queue_consumers",
      help: "Consumers of a queue as the broker counts them (all processes), sampled with the depth.",
      labelNames: ["queue"],
      registers,
    }),
    readyPerConsumer: new Gauge({
      name: "warren_queue_ready_per_consumer",
      help: "Ready messages per consumer of the queue (the ready count when it has none): an autoscaling signal.",
      labelNames: ["queue"],
      registers,
    }),
    handlerTimeouts: new Counter({
      name: "warren_handler_timeouts_total",
      help: "Handlers that ran past their timeoutMs, by queue.",
      labelNames: ["queue"],
      registers,
    }),
    retries: new Counter({
      name: "warren_retries_total",
      help: "Retry copies published, by queue and tier (the tier's delay).",
      labelNames: ["queue", "tier"],
      registers,
    }),
    deadLetters: new Counter({
      name: "warren_dead_letters_total",
      help: "Dead-letter copies published, by queue and reason (retries-exhausted, non-retryable, invalid-payload, undecodable, too-large).",
      labelNames: ["queue", "reason"],
      registers,
    }),
    publisherBlocked: new Gauge({
      name: "warren_publisher_blocked",
      help: "1 while the broker blocks the publisher connection (memory or disk alarm).",
      registers,
    }),
  };
}
