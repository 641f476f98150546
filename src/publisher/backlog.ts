/**
 * Publishes accepted but not yet written, in arrival order. A settled entry
 * (timed out, refused while blocked) stays in the array and is skipped when
 * it reaches the head; `size` counts only live entries. An index instead of
 * `Array#shift` keeps taking from a backlog of 100,000 entries O(1).
 */
import type { Envelope } from "./envelope.ts";

/** One publish, from the call until it settles. */
export interface Pending {
  envelope: Envelope;
  resolve: () => void;
  reject: (error: Error) => void;
  /**
   * `queued` in the backlog, `writing` taken from it, `written` awaiting its
   * confirm, `done` settled.
   */
  state: "queued" | "writing" | "written" | "done";
  /** Delivery tag on the channel it was written to (0 until written). */
  seq: number;
  /** `performance.now()` at the call, for the confirm latency. */
  startedAt: number;
  /** `performance.now()` when the whole publish times out (deadlines.ts). */
  deadline: number;
  /** Own timer, only when its timeout differs from the publisher's default. */
  timer: NodeJS.Timeout | undefined;
  /** Set while it waits for the broker to unblock the connection. */
  blockedTimer: NodeJS.Timeout | undefined;
  /** Reply code and text of a `basic.return` for it. */
  returned: string | undefined;
}

export class Backlog {
  #items: Pending[] = [];
  #head = 0;
  #size = 0;

  /** Live (queued) entries. */
  get size(): number {
    return this.#size;
  }

  push(entry: Pending): void {
    this.#items.push(entry);
    this.#size++;
  }

  /** Puts an entry back at the head (a write that did not happen). */
  unshift(entry: Pending): void {
    if (this.#head > 0) this.#items[--this.#head] = entry;
    else this.#items.unshift(entry);
    this.#size++;
  }

  /** The oldest live entry, left in place. */
  peek(): Pending | undefined {
    while (this.#head < this.#items.length) {
      const entry = this.#items[this.#head] as Pending;
      if (entry.state === "queued") return entry;
      this.#head++;
    }
    return undefined;
  }

  /** Takes the oldest live entry. */
  shift(): Pending | undefined {
    while (this.#head < this.#items.length) {
      const entry = this.#items[this.#head++] as Pending;
      if (entry.state === "queued") {
        this.#size--;
        this.#compact();
        return entry;
      }
    }
    this.#compact();
    return undefined;
  }

  /** Called when a queued entry settles in place; it is skipped later. */
  forget(): void {
    this.#size--;
    this.#compact();
  }

  /** The live entries, oldest first. */
  *entries(): IterableIterator<Pending> {
    for (let i = this.#head; i < this.#items.length; i++) {
      const entry = this.#items[i] as Pending;
      if (entry.state === "queued") yield entry;
    }
  }

  #compact(): void {
    if (this.#size === 0) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
