/** Capped exponential backoff with jitter, for connects and reconnects. */
export interface BackoffOptions {
  /**
   * Delay before the first retry, in milliseconds.
   * @default 100
   */
  initialDelayMs: number;
  /**
   * Upper bound of any delay, in milliseconds.
   * @default 10000
   */
  maxDelayMs: number;
  /**
   * Growth factor per attempt.
   * @default 2
   */
  multiplier: number;
}

export const backoffDefaults: Readonly<BackoffOptions> = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  multiplier: 2,
});

/**
 * Delay before retry number `attempt` (0-based). "Equal jitter": half the
 * exponential step is fixed and half is random, so a fleet of clients that
 * lost the same broker spreads its reconnects without ever retrying at once.
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions = backoffDefaults,
  random: () => number = Math.random,
): number {
  const exponential = options.initialDelayMs * options.multiplier ** Math.max(0, attempt);
  const capped = Math.min(options.maxDelayMs, exponential);
  return Math.round(capped / 2 + random() * (capped / 2));
}
