/**
 * Retry delays chosen by the handler: `throw new RetryLaterError(message,
 * { delay: "2m" })`.
 *
 * The delays a message can wait are those of the queue's declared retry
 * tiers, and no others. A tier is a queue with a per-queue TTL
 * (`x-message-ttl`) that dead-letters back to the work queue; per-queue TTL
 * keeps expiry first-in first-out, so one long wait never holds back the
 * short ones behind it. A per-message TTL could give any delay, but
 * RabbitMQ expires messages only from the head of a queue: a 2-minute
 * message in front would hold a 1-second one for 2 minutes. So the request
 * picks the shortest tier at least as long as the delay asked for, or the
 * longest tier (with a log line) when none is that long.
 *
 * A retry-later counts as an attempt unless the error says
 * `countsAsAttempt: false`. Uncounted retries are themselves capped
 * (`maxUncountedRetries`, counted in the `warren-uncounted-retries` header)
 * so that a message whose dependency never recovers still ends in the
 * dead-letter queue instead of circling forever.
 */
import type { ConsumeMessage } from "amqplib";
import { ConsumeError, ErrorCode, type WarrenErrorOptions } from "../errors.ts";
import { HEADER } from "../headers.ts";
import { durationProblem, parseDuration } from "../topology/duration.ts";
import type { RetryPolicy, RetryTier } from "../topology/model.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import type { Verdict } from "./verdict.ts";

/** Options of {@link RetryLaterError}. */
export interface RetryLaterOptions extends WarrenErrorOptions {
  /**
   * How long to wait before the next attempt: milliseconds, or a duration
   * string (`500ms`, `10s`, `2m`, `1h`). The message waits in the shortest
   * declared retry tier at least this long (or the longest tier).
   */
  delay: string | number;
  /**
   * Whether this retry uses up an attempt of `maxAttempts`. With `false` it
   * does not, up to the consumer's `maxUncountedRetries`; past that it
   * counts again.
   * @default true
   */
  countsAsAttempt?: boolean;
}

/**
 * Thrown by a handler to retry the message after (at least) a given delay,
 * for example while a circuit breaker in front of a dependency is open.
 *
 * @throws ConsumeError `WARREN_RETRY_LATER_INVALID_DELAY` from the
 *   constructor when `delay` is not a duration. A handler that throws that
 *   instead still has its message retried, as for any other error.
 */
export class RetryLaterError extends Error {
  /** The delay asked for, in milliseconds. */
  readonly delayMs: number;
  /** Whether the retry uses up an attempt. */
  readonly countsAsAttempt: boolean;

  constructor(message: string, options: RetryLaterOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RetryLaterError";
    const problem = durationProblem(options?.delay);
    if (problem !== undefined) {
      throw new ConsumeError(
        ErrorCode.WARREN_RETRY_LATER_INVALID_DELAY,
        `RetryLaterError: option delay: ${problem}`,
      );
    }
    this.delayMs = parseDuration(options.delay);
    this.countsAsAttempt = options.countsAsAttempt !== false;
  }
}

/** A RetryLaterError, also one thrown by a second copy of warren in node_modules. */
export function isRetryLater(error: unknown): error is RetryLaterError {
  if (error instanceof RetryLaterError) return true;
  if (!(error instanceof Error) || error.name !== "RetryLaterError") return false;
  const { delayMs, countsAsAttempt } = error as Partial<RetryLaterError>;
  return typeof delayMs === "number" && delayMs >= 0 && typeof countsAsAttempt === "boolean";
}

/** The tier for a requested delay. */
export interface TierChoice {
  tier: RetryTier;
  /** False when no tier is as long as the delay asked for (the longest was taken). */
  longEnough: boolean;
}

/**
 * The shortest declared tier whose delay is at least `delayMs`, or the
 * longest tier when none is; `undefined` when the queue has no tiers.
 */
export function tierForDelay(policy: RetryPolicy, delayMs: number): TierChoice | undefined {
  let fit: RetryTier | undefined;
  let longest: RetryTier | undefined;
  for (const tier of policy.tiers) {
    if (longest === undefined || tier.delayMs > longest.delayMs) longest = tier;
    if (tier.delayMs >= delayMs && (fit === undefined || tier.delayMs < fit.delayMs)) fit = tier;
  }
  if (fit !== undefined) return { tier: fit, longEnough: true };
  return longest === undefined ? undefined : { tier: longest, longEnough: false };
}

/**
 * Uncounted retries a delivery has had (`warren-uncounted-retries`). The
 * header arrives from the wire, so anything but an integer from 0 to `cap`
 * (a negative number, text, a huge value) reads as `cap`: a forged or
 * garbled header can only end the uncounted retries early, never extend
 * them.
 */
export function uncountedRetriesOf(message: ConsumeMessage, cap: number): number {
  const value: unknown = message.properties.headers?.[HEADER.uncountedRetries];
  if (value === undefined) return 0;
  const n = typeof value === "string" && /^\d{1,9}$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= cap ? n : cap;
}

/** What to do with a delivery whose handler threw a {@link RetryLaterError}. */
export type RetryLaterPlan =
  | {
      kind: "retry";
      tier: RetryTier;
      /** `warren-attempt` of the copy: unchanged for an uncounted retry. */
      nextAttempt: number;
      /** `warren-uncounted-retries` of the copy, when this retry is uncounted. */
      uncountedRetries: number | undefined;
      /** False when no tier is as long as the delay asked for. */
      longEnough: boolean;
      /** True when the handler asked not to count it but the cap was reached. */
      capped: boolean;
    }
  | { kind: "dead-letter" };

/**
 * Plans a retry-later: which tier, and whether it uses up an attempt.
 *
 * @param attempt - the 1-based attempt that threw.
 * @param uncounted - from {@link uncountedRetriesOf}.
 * @param cap - the consumer's `maxUncountedRetries`.
 */
export function planRetryLater(
  policy: RetryPolicy,
  attempt: number,
  uncounted: number,
  error: RetryLaterError,
  cap: number,
): RetryLaterPlan {
  const choice = tierForDelay(policy, error.delayMs);
  if (choice === undefined) return { kind: "dead-letter" }; // no tiers: one attempt only
  const uncountedAllowed = !error.countsAsAttempt && uncounted < cap;
  if (uncountedAllowed) {
    return {
      kind: "retry",
      tier: choice.tier,
      nextAttempt: attempt,
      uncountedRetries: uncounted + 1,
      longEnough: choice.longEnough,
      capped: false,
    };
  }
  if (attempt >= policy.maxAttempts) return { kind: "dead-letter" };
  return {
    kind: "retry",
    tier: choice.tier,
    nextAttempt: attempt + 1,
    uncountedRetries: undefined,
    longEnough: choice.longEnough,
    capped: !error.countsAsAttempt,
  };
}

/**
 * The verdict for a handler that threw a {@link RetryLaterError}, with the
 * log lines of a fallback to the longest tier and of a reached cap.
 */
export function retryLaterVerdict<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  attempt: number,
  error: RetryLaterError,
): Verdict {
  const cap = rt.options.maxUncountedRetries;
  const plan = planRetryLater(rt.policy, attempt, uncountedRetriesOf(message, cap), error, cap);
  if (plan.kind === "dead-letter")
    return { kind: "dead-letter", reason: "retries-exhausted", error };
  const log = { messageId: message.properties.messageId, attempt, requestedDelayMs: error.delayMs };
  if (!plan.longEnough) {
    rt.logger.warn(
      { ...log, retryQueue: plan.tier.queue, delayMs: plan.tier.delayMs },
      "RetryLaterError: no retry tier is as long as the delay asked for; using the longest tier",
    );
  }
  if (plan.capped) {
    rt.logger.warn(
      { ...log, maxUncountedRetries: cap },
      "RetryLaterError: uncounted retries used up; this retry counts as an attempt",
    );
  }
  return {
    kind: "retry",
    tier: plan.tier,
    nextAttempt: plan.nextAttempt,
    error,
    uncountedRetries: plan.uncountedRetries,
  };
}
