/**
 * `ordering: "hold"` (docs/consuming.md#ordering-under-failure): a failed
 * message is retried in place instead of through its retry tier. The
 * delivery stays unacked on its channel while the lane waits the tier's
 * delay, then the handler runs again with the next attempt; nothing else of
 * the lane (of the partition, under a single active consumer) runs
 * meanwhile, so no later message overtakes it. It ends like any delivery:
 * acked on success, copied to `Q.dlq` once `maxAttempts` is used up.
 *
 * The attempt count lives in memory: if the process dies while holding, the
 * broker redelivers the message (to this or another process) from its
 * header's attempt, and the queue's `deliveryLimit` still ends a crash loop.
 */
import type { DeliveryRuntime } from "./handle-delivery.ts";
import type { Verdict } from "./verdict.ts";

/** What a held delivery has used up so far. */
export interface HoldState {
  /** Uncounted `RetryLaterError` retries taken in place. */
  uncounted: number;
}

/**
 * The attempt to run next for a retry verdict held in place, or `undefined`
 * when the message must be dead-lettered instead (retries exhausted).
 */
export function nextHeldAttempt<T>(
  rt: DeliveryRuntime<T>,
  verdict: Extract<Verdict, { kind: "retry" }>,
  attempt: number,
  state: HoldState,
): number | undefined {
  // The idempotency key is in progress elsewhere: this attempt did not fail.
  if (verdict.error === undefined) return attempt;
  if (verdict.nextAttempt > attempt) return verdict.nextAttempt;
  // An uncounted RetryLaterError: the header cannot count them while the
  // message never leaves the lane, so count them here against the same cap.
  state.uncounted++;
  if (state.uncounted <= rt.options.maxUncountedRetries) return attempt;
  return attempt >= rt.policy.maxAttempts ? undefined : attempt + 1;
}

/**
 * Waits `ms` unless the consumer stops first. Resolves true when the wait
 * ran out, false when the consumer is closing (the held message is then
 * left unacked: closing the channel hands it back to the broker).
 */
export function waitHeld(ms: number, stopping: AbortSignal | undefined): Promise<boolean> {
  if (stopping?.aborted === true) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ranOut: boolean) => {
      clearTimeout(timer);
      stopping?.removeEventListener("abort", onAbort);
      resolve(ranOut);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    stopping?.addEventListener("abort", onAbort, { once: true });
  });
}
