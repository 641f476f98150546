/**
 * Counter and gauge series counted in a plain number on the hot path and
 * folded into their prom-client series when metrics are read.
 *
 * A prom-client series bound with `labels()` still validates and hashes its
 * label set on every `inc()` (about a microsecond each, measured for issue
 * #10), and the consumer and publisher touch several series per message. A
 * local series adds to a number instead; `createMetrics` gives the metrics
 * that have local series a `collect` hook that folds every pending delta in
 * before prom-client reads them, so a scrape (or `get()`) sees the same
 * values as if each `inc()` had gone straight to prom-client.
 */

/** What a local series folds its pending delta into: a bound prom-client counter or gauge. */
export interface IncrementableSeries {
  inc(value?: number): void;
}

/** A series that counts locally until {@link LocalSeries.flush}. */
export class LocalCount {
  #pending = 0;
  readonly #series: IncrementableSeries;

  constructor(series: IncrementableSeries) {
    this.#series = series;
  }

  inc(by = 1): void {
    this.#pending += by;
  }

  /** For a gauge: a negative delta. */
  dec(by = 1): void {
    this.#pending -= by;
  }

  /** Folds the pending delta into the prom-client series. */
  flush(): void {
    if (this.#pending === 0) return;
    const delta = this.#pending;
    this.#pending = 0;
    this.#series.inc(delta);
  }
}

/** The local series of one metrics set; flushed by the `collect` hook of its metrics. */
export class LocalSeries {
  readonly #all = new Set<LocalCount>();

  /** A local series over `series`, folded in at every read of the metrics. */
  count(series: IncrementableSeries): LocalCount {
    const local = new LocalCount(series);
    this.#all.add(local);
    return local;
  }

  /** Folds every pending delta into prom-client. */
  flush(): void {
    for (const local of this.#all) local.flush();
  }
}
