/**
 * Notices a confirm channel on which the broker nacks every publish.
 *
 * Seen on RabbitMQ 3.10.8 (reliability scenario 2, about one run in three):
 * after the leader of a quorum queue is killed, a publishing channel on a
 * surviving node can go on nacking every publish to that queue, for minutes,
 * while the queue has a new leader, takes publishes from other channels and
 * delivers to consumers. The state that nacks lives in the channel, so the
 * publisher closes such a channel and publishes on a fresh one (what was in
 * flight on it settles in doubt, as on any channel loss).
 *
 * A channel counts as stuck after nacks only, no ack in between, for at
 * least `windowMs` and at least `minNacks` of them. A queue that really
 * refuses (full, with `x-overflow: reject-publish`) nacks on a fresh
 * channel too: the cost is a channel reopened per window, logged.
 */
export class NackStreak {
  readonly #windowMs: number;
  readonly #minNacks: number;
  #nacks = 0;
  #since = 0;

  constructor(windowMs = 2_000, minNacks = 10) {
    this.#windowMs = windowMs;
    this.#minNacks = minNacks;
  }

  /**
   * Records one confirm (`nacked` or acked) at `now` (milliseconds) and
   * returns true when the channel should be replaced; the streak then
   * starts over.
   */
  record(nacked: boolean, now: number): boolean {
    if (!nacked) {
      this.#nacks = 0;
      return false;
    }
    if (this.#nacks === 0) this.#since = now;
    this.#nacks++;
    if (this.#nacks >= this.#minNacks && now - this.#since >= this.#windowMs) {
      this.reset();
      return true;
    }
    return false;
  }

  /** Starts over (a new channel). */
  reset(): void {
    this.#nacks = 0;
  }
}
