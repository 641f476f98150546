/**
 * The publish timeouts, on one timer instead of one per message. Entries
 * with the publisher's default timeout arrive in deadline order, so they
 * wait in a FIFO and one timer, armed for the oldest live deadline, sweeps
 * the expired ones. Settled entries are dropped from the head as they
 * settle (confirms arrive in publish order), so the FIFO holds about the
 * in-flight window. A publish with its own `timeoutMs` would break the
 * order and gets its own timer; that is the rare case.
 *
 * A `setTimeout` and `clearTimeout` per message showed up on the awaited
 * publish path (issue #10). One at a time (an awaited publish, a consumer at
 * prefetch 1) the FIFO empties after every message, so the timer is not
 * cleared then but only unref'd: it stays armed, holds the event loop for
 * no one, and the next entry refs it again, which is a counter change
 * instead of a timer-list insert and removal. When it fires with nothing
 * due it re-arms for the oldest live deadline, or stops when there is none.
 *
 * The consumer's handler deadlines use it too (consumer/run-handler.ts).
 */

/** What a deadline tracks: an entry that settles at most once. */
export interface Expiring {
  /** `performance.now()` after which the entry times out. */
  deadline: number;
  /** `done` once settled (by a confirm, a rejection or a timeout). */
  readonly state: string;
  /** Own timer of an entry whose timeout differs from the default. */
  timer: NodeJS.Timeout | undefined;
}

export class Deadlines<T extends Expiring> {
  readonly #defaultMs: number;
  readonly #expire: (entry: T) => void;
  #fifo: T[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  /** True while the timer is armed but unref'd because nothing is tracked. */
  #idle = false;

  /** `expire` is called once for each entry whose deadline passed unsettled. */
  constructor(defaultMs: number, expire: (entry: T) => void) {
    this.#defaultMs = defaultMs;
    this.#expire = expire;
  }

  /** Starts the clock of `entry`, `timeoutMs` from `now`. */
  track(entry: T, timeoutMs: number, now: number): void {
    entry.deadline = now + timeoutMs;
    if (timeoutMs !== this.#defaultMs) {
      entry.timer = setTimeout(() => {
        if (entry.state !== "done") this.#expire(entry);
      }, timeoutMs);
      return;
    }
    this.#fifo.push(entry);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#sweep, timeoutMs);
    } else if (this.#idle) {
      this.#idle = false;
      this.#timer.ref();
    }
  }

  /** Called after `entry` settled: stops its own timer, drops settled heads. */
  settled(entry: T): void {
    if (entry.timer !== undefined) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    this.#dropSettledHeads();
  }

  /** Lets go of the event loop when nothing is left to time out. */
  #dropSettledHeads(): void {
    const fifo = this.#fifo;
    while (this.#head < fifo.length && (fifo[this.#head] as T).state === "done") this.#head++;
    if (this.#head === fifo.length) {
      fifo.length = 0;
      this.#head = 0;
      if (this.#timer !== undefined && !this.#idle) {
        this.#idle = true;
        this.#timer.unref();
      }
    } else if (this.#head > 1024 && this.#head * 2 > fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
  }

  readonly #sweep = (): void => {
    this.#timer = undefined;
    this.#idle = false;
    const now = performance.now();
    while (this.#head < this.#fifo.length) {
      const entry = this.#fifo[this.#head] as T;
      // Timers may fire up to a millisecond early relative to performance.now().
      if (entry.state !== "done" && entry.deadline > now + 1) break;
      // Settling calls settled(), which moves the head past this entry.
      if (entry.state !== "done") this.#expire(entry);
      if (this.#fifo[this.#head] === entry) this.#head++;
    }
    this.#dropSettledHeads();
    const next = this.#fifo[this.#head];
    if (next !== undefined && this.#timer === undefined) {
      this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(next.deadline - now)));
    }
  };
}
