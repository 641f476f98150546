/**
 * Counter and gauge series counted in a plain number on the hot path and
 * folded into their prom-client series when metrics are read; histogram
 * observations kept in a small buffer and folded in the same way.
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

/** What a {@link LocalObservations} folds into: a bound prom-client histogram. */
export interface ObservableSeries {
  observe(value: number): void;
}

/**
 * Observations of one histogram series, kept in a buffer and handed to
 * prom-client in a batch: when metrics are read, or when the buffer is full.
 *
 * prom-client validates and hashes the label set on every `observe()`, even
 * on a bound series. One at a time between socket reads, with the caches
 * cold, that measured about 5 µs per call on the confirm and the delivery
 * paths (issue #10); the same calls made back to back in a batch cost well
 * under 1 µs each. A full buffer is folded at once, so memory stays bounded
 * however rarely metrics are read.
 */
export class LocalObservations {
  /** Observations held; a fold hands them all to prom-client. */
  static readonly capacity = 256;
  readonly #values = new Float64Array(LocalObservations.capacity);
  #size = 0;
  readonly #series: ObservableSeries;

  constructor(series: ObservableSeries) {
    this.#series = series;
  }

  observe(value: number): void {
    // prom-client throws on these; held, one would throw later, at a fold
    // on another message's path or in a scrape. Warren only observes
    // differences of clock readings, so none is expected.
    if (!Number.isFinite(value)) return;
    this.#values[this.#size++] = value;
    if (this.#size === LocalObservations.capacity) this.flush();
  }

  /** Hands every held observation to the prom-client series. */
  flush(): void {
    const size = this.#size;
    this.#size = 0;
    for (let i = 0; i < size; i++) this.#series.observe(this.#values[i] as number);
  }
}

/** The local series of one metrics set; flushed by the `collect` hook of its metrics. */
export class LocalSeries {
  readonly #all = new Set<LocalCount | LocalObservations>();

  /** A local series over `series`, folded in at every read of the metrics. */
  count(series: IncrementableSeries): LocalCount {
    const local = new LocalCount(series);
    this.#all.add(local);
    return local;
  }

  /** Local observations of a histogram series, folded in at every read of the metrics. */
  observations(series: ObservableSeries): LocalObservations {
    const local = new LocalObservations(series);
    this.#all.add(local);
    return local;
  }

  /** Folds every pending delta into prom-client. */
  flush(): void {
    for (const local of this.#all) local.flush();
  }
}
