/**
 * The consumer's metric series for one queue, bound once when it starts.
 */
import type { ConsumeOutcome, WarrenMetrics } from "../observability/metrics.ts";

/**
 * The consumer's metric series with their labels bound once: looking a
 * series up by labels on every message costs more than the rest of the
 * bookkeeping together.
 */
export interface ConsumerMeters {
  consumed: Record<ConsumeOutcome, { inc(): void }>;
  duration: Record<"success" | "failure", { observe(seconds: number): void }>;
  inFlight: { inc(): void; dec(): void };
  overrun: { inc(): void };
}

/** Binds the metrics of one queue. */
export function bindMeters(metrics: WarrenMetrics, queue: string): ConsumerMeters {
  const consumed = (outcome: ConsumeOutcome) => metrics.messagesConsumed.labels({ queue, outcome });
  return {
    consumed: {
      acked: consumed("acked"),
      retried: consumed("retried"),
      dead_lettered: consumed("dead_lettered"),
      duplicate: consumed("duplicate"),
      requeued: consumed("requeued"),
      rejected: consumed("rejected"),
    },
    duration: {
      success: metrics.handlerDuration.labels({ queue, result: "success" }),
      failure: metrics.handlerDuration.labels({ queue, result: "failure" }),
    },
    inFlight: metrics.handlersInFlight.labels({ queue }),
    overrun: metrics.handlersOverrun.labels({ queue }),
  };
}
