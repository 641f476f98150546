/**
 * The failure rate of the last `windowMs`, for the kill switch
 * (kill-switch.ts).
 *
 * Results are counted in buckets of `windowMs / BUCKETS`, so the memory
 * stays fixed however many messages a second the consumer handles (a list
 * of timestamps would hold every message of the window). The price is that
 * the window slides in steps of one bucket: a result leaves the window
 * between `windowMs - windowMs / BUCKETS` and `windowMs` after it was
 * recorded.
 */

/** Buckets per window: the window slides in steps of 1/20 of its length. */
export const BUCKETS = 20;

interface Bucket {
  /** Bucket number: `floor(at / bucketMs)`. */
  index: number;
  total: number;
  failures: number;
}

/** Counts of the results still in the window. */
export interface WindowCounts {
  total: number;
  failures: number;
}

/** A sliding window of success and failure counts. */
export class FailureWindow {
  readonly #bucketMs: number;
  /** Oldest first; at most {@link BUCKETS} + 1 entries. */
  #buckets: Bucket[] = [];

  /** @param windowMs - length of the window, in milliseconds (>= 1). */
  constructor(windowMs: number) {
    this.#bucketMs = Math.max(1, windowMs / BUCKETS);
  }

  /** Records one result at `now` (milliseconds, monotonic within this window). */
  record(failed: boolean, now: number): void {
    const index = Math.floor(now / this.#bucketMs);
    let last = this.#buckets.at(-1);
    if (last === undefined || last.index < index) {
      last = { index, total: 0, failures: 0 };
      this.#buckets.push(last);
    }
    last.total++;
    if (failed) last.failures++;
    this.#prune(index);
  }

  /** The results recorded within the window that ends at `now`. */
  counts(now: number): WindowCounts {
    this.#prune(Math.floor(now / this.#bucketMs));
    let total = 0;
    let failures = 0;
    for (const bucket of this.#buckets) {
      total += bucket.total;
      failures += bucket.failures;
    }
    return { total, failures };
  }

  /** Forgets every result (after a trip or a resume: a new period starts). */
  clear(): void {
    this.#buckets = [];
  }

  #prune(currentIndex: number): void {
    const oldest = currentIndex - BUCKETS + 1;
    let drop = 0;
    while (drop < this.#buckets.length && (this.#buckets[drop]?.index ?? 0) < oldest) drop++;
    if (drop > 0) this.#buckets.splice(0, drop);
  }
}
