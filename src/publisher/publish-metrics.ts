/**
 * The publisher's per-exchange metric children. prom-client hashes the label
 * set on every call; at tens of thousands of publishes per second that costs
 * more than the counting, so the children are looked up once per exchange.
 */
import type { PublishOutcome, WarrenMetrics } from "../observability/metrics.ts";

export interface ExchangeMetrics {
  confirmed: { inc(): void };
  latency: { observe(seconds: number): void };
  outcome(outcome: PublishOutcome): { inc(): void };
}

export class PublishMetrics {
  readonly #metrics: WarrenMetrics;
  readonly #byExchange = new Map<string, ExchangeMetrics>();

  constructor(metrics: WarrenMetrics) {
    this.#metrics = metrics;
  }

  /** The metric children of `exchange`. */
  for(exchange: string): ExchangeMetrics {
    let children = this.#byExchange.get(exchange);
    if (children === undefined) {
      const { messagesPublished, confirmLatency } = this.#metrics;
      children = {
        // Counted locally, folded in when metrics are read (observability/local-series.ts).
        confirmed: this.#metrics.local.count(
          messagesPublished.labels({ exchange, outcome: "confirmed" }),
        ),
        latency: this.#metrics.local.observations(confirmLatency.labels({ exchange })),
        outcome: (outcome) => messagesPublished.labels({ exchange, outcome }),
      };
      this.#byExchange.set(exchange, children);
    }
    return children;
  }
}
