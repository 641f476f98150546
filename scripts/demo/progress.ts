/**
 * Live progress: on a terminal, one status line redrawn in place (events are
 * printed above it); otherwise plain lines, a status line every few seconds.
 */
export interface ProgressState {
  target: number;
  accepted: number;
  fulfilled: number;
  emailed: number;
  invoiced: number;
  deadLettered: number;
  retried: number;
  duplicates: number;
  outboxPending: number;
}

export class Progress {
  readonly #tty: boolean;
  readonly #started = Date.now();
  #state: ProgressState | undefined;
  #lastPlain = 0;

  constructor(tty = process.stdout.isTTY === true) {
    this.#tty = tty;
  }

  #elapsed(): string {
    return `${((Date.now() - this.#started) / 1000).toFixed(1)}s`.padStart(6);
  }

  #line(s: ProgressState): string {
    const width = 20;
    const filled = Math.round((s.accepted / s.target) * width);
    const bar = this.#tty ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ` : "";
    return (
      `${bar}${s.accepted}/${s.target} accepted | outbox ${s.outboxPending} | fulfilled ${s.fulfilled}` +
      ` | emailed ${s.emailed} | invoiced ${s.invoiced} | DLQ ${s.deadLettered}` +
      ` | retried ${s.retried} | duplicates ${s.duplicates}`
    );
  }

  /** Prints an event line (above the live line on a terminal). */
  event(text: string): void {
    if (this.#tty) process.stdout.write("\r\x1b[2K");
    process.stdout.write(`${this.#elapsed()}  ${text}\n`);
    if (this.#tty && this.#state !== undefined) process.stdout.write(this.#line(this.#state));
  }

  /** Updates the live line (plain mode: at most one line per 3 s, or when forced). */
  update(state: ProgressState, force = false): void {
    this.#state = state;
    if (this.#tty) {
      process.stdout.write(`\r\x1b[2K${this.#line(state)}`);
    } else if (force || Date.now() - this.#lastPlain >= 3_000) {
      this.#lastPlain = Date.now();
      process.stdout.write(`${this.#elapsed()}  ${this.#line(state)}\n`);
    }
  }

  /** Ends the live line. */
  done(): void {
    if (this.#tty && this.#state !== undefined) process.stdout.write("\n");
    this.#state = undefined;
  }
}
