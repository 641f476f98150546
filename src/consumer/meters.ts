/**
 * The consumer's metric series for one queue, bound once when it starts.
 */
import type { ConsumeOutcome, WarrenMetrics } from "../observability/metrics.ts";
import { formatDelay } from "../topology/duration.ts";
import type { RetryPolicy } from "../topology/model.ts";
import type { DeadLetterReason } from "./retry.ts";

/**
 * The consumer's metric series with their labels bound once: looking a
 * series up by labels on every message costs more than the rest of the
 * bookkeeping together.
 */
export interface ConsumerMeters {
  consumed: Record<ConsumeOutcome, { inc(): void }>;
  duration: Record<"success" | "failure", { observe(seconds: number): void }>;
  inFlight: { inc(): void; dec(): void };
  age: { observe(seconds: number): void };
  timeouts: { inc(): void };
  /** By tier queue name. */
  retries: Map<string, { inc(): void }>;
  deadLetters: Record<DeadLetterReason, { inc(): void }>;
  overrun: { inc(): void };
}

const deadLetterReasons: readonly DeadLetterReason[] = [
  "retries-exhausted",
  "non-retryable",
  "invalid-payload",
  "undecodable",
  "too-large",
];

/**
 * Exports a counter's series at 0 before its first event: `rate()` and
 * `increase()` miss the first increment of a series that appears from nothing.
 */
function zeroed<C extends { inc(by?: number): void }>(child: C): C {
  child.inc(0);
  return child;
}

/** Binds the metrics of one queue, with one retry series per tier of `policy`. */
export function bindMeters(
  metrics: WarrenMetrics,
  queue: string,
  policy: RetryPolicy,
): ConsumerMeters {
  // Counted locally, folded in when metrics are read (observability/local-series.ts).
  const consumed = (outcome: ConsumeOutcome) =>
    metrics.local.count(zeroed(metrics.messagesConsumed.labels({ queue, outcome })));
  const deadLetters = {} as Record<DeadLetterReason, { inc(): void }>;
  for (const reason of deadLetterReasons) {
    deadLetters[reason] = zeroed(metrics.deadLetters.labels({ queue, reason }));
  }
  return {
    // Observed locally, folded in when metrics are read (observability/local-series.ts).
    age: metrics.local.observations(metrics.messageAge.labels({ queue })),
    timeouts: zeroed(metrics.handlerTimeouts.labels({ queue })),
    retries: new Map(
      policy.tiers.map((tier) => [
        tier.queue,
        zeroed(metrics.retries.labels({ queue, tier: formatDelay(tier.delayMs) })),
      ]),
    ),
    deadLetters,
    consumed: {
      acked: consumed("acked"),
      retried: consumed("retried"),
      dead_lettered: consumed("dead_lettered"),
      duplicate: consumed("duplicate"),
      requeued: consumed("requeued"),
      rejected: consumed("rejected"),
    },
    duration: {
      success: metrics.local.observations(
        metrics.handlerDuration.labels({ queue, result: "success" }),
      ),
      failure: metrics.local.observations(
        metrics.handlerDuration.labels({ queue, result: "failure" }),
      ),
    },
    inFlight: metrics.local.count(metrics.handlersInFlight.labels({ queue })),
    overrun: zeroed(metrics.handlersOverrun.labels({ queue })),
  };
}
