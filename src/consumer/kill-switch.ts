/**
 * The kill switch: stops a consumer from taking messages while a dependency
 * of its handler is down, so that messages wait in the queue instead of
 * burning through every retry tier into the dead-letter queue.
 *
 * A small state machine, driven by the results of deliveries and one timer:
 *
 * ```
 * running --(failure rate >= threshold over >= minMessages in windowMs)--> tripped
 * tripped --(cooldownMs)--> probing
 * probing --(probeMessages successes)--> running
 * probing --(one counted failure)--> tripped
 * any     --(consumer.resume() by an operator)--> running
 * ```
 *
 * The machine only decides how many messages the consumer may take
 * ({@link KillSwitch.intake}) and which deliveries it may start
 * ({@link KillSwitch.admit}); the consumer cancels and renews its
 * subscriptions to match (consume.ts), so a tripped consumer leaves every
 * message in the queue. Results of deliveries taken before the trip (still
 * running when it happened) follow their normal path and are not counted.
 */
import type { Logger } from "pino";
import { z } from "zod";
import { fn, integer } from "../options.ts";
import { FailureWindow } from "./failure-window.ts";
import { isRetryLater } from "./retry-later.ts";
import { HandlerTimeoutError } from "./run-handler.ts";
import type { Verdict } from "./verdict.ts";

/** What kind of failure a delivery ended with, for {@link KillSwitchOptions.countsAsFailure}. */
export type FailureKind =
  /** The handler threw (a retry or, at the last attempt, a dead letter). */
  | "thrown"
  /** The handler ran past `timeoutMs`. */
  | "timeout"
  /** The handler threw a `RetryLaterError` (its own circuit breaker is open, typically). */
  | "retry-later"
  /** The handler threw a `NonRetryableError`: about the message, not a dependency. */
  | "non-retryable"
  /** The body failed the schema; the handler was not called. */
  | "invalid-payload"
  /** The body was not JSON; the handler was not called. */
  | "undecodable"
  /** The body was over `maxBytes`; the handler was not called. */
  | "too-large";

/** What one delivery says about the handler's dependencies. */
export type DeliveryObservation =
  | { kind: "success" }
  | { kind: "failure"; failure: FailureKind; error: unknown }
  /** Says nothing either way (a duplicate, a key in progress elsewhere, an internal requeue). */
  | { kind: "neutral" };

// Shared, never changed: observations are read, not written.
const SUCCESS: DeliveryObservation = Object.freeze({ kind: "success" });
const NEUTRAL: DeliveryObservation = Object.freeze({ kind: "neutral" });

/** What a verdict says about the handler's dependencies. */
export function observationOf(verdict: Verdict): DeliveryObservation {
  if (verdict.kind === "ack") return verdict.outcome === "acked" ? SUCCESS : NEUTRAL;
  if (verdict.kind === "requeue") return NEUTRAL;
  const error = verdict.error;
  // A retry without an error: the idempotency key is in progress elsewhere.
  if (verdict.kind === "retry" && error === undefined) return NEUTRAL;
  if (verdict.kind === "retry" || verdict.reason === "retries-exhausted") {
    const failure =
      error instanceof HandlerTimeoutError
        ? "timeout"
        : isRetryLater(error)
          ? "retry-later"
          : "thrown";
    return { kind: "failure", failure, error };
  }
  return { kind: "failure", failure: verdict.reason, error };
}

/** Options of the kill switch (`consume(queue, handler, { killSwitch })`). */
export interface KillSwitchOptions {
  /**
   * Failure rate, from 0 (exclusive) to 1, at or above which the switch
   * trips: 0.5 trips when half the counted results of the window failed.
   * @default 0.5
   */
  threshold?: number;
  /**
   * Fewest counted results in the window before the rate is judged, so that
   * two failures out of three messages do not stop a quiet consumer.
   * @default 20
   */
  minMessages?: number;
  /**
   * Length of the sliding window, in milliseconds. It slides in steps of
   * 1/20 of its length.
   * @default 60000
   */
  windowMs?: number;
  /**
   * How long a tripped consumer takes no messages before it probes, in
   * milliseconds.
   * @default 30000
   */
  cooldownMs?: number;
  /**
   * Messages let through after the cool-down. When all of them succeed the
   * consumer resumes; the first counted failure trips it again.
   * @default 3
   */
  probeMessages?: number;
  /**
   * Which failures count toward the rate (and fail a probe). The default
   * counts `thrown`, `timeout` and `retry-later`, and not `non-retryable`
   * nor the three invalid-payload kinds, which say nothing about a
   * dependency.
   */
  countsAsFailure?: (error: unknown, kind: FailureKind) => boolean;
}

/** Defaults of {@link KillSwitchOptions}. */
export const killSwitchDefaults = Object.freeze({
  /** Failure rate that trips the switch, in (0, 1]. @default 0.5 */
  threshold: 0.5,
  /** Fewest counted results before the rate is judged. @default 20 */
  minMessages: 20,
  /** Sliding window, in milliseconds. @default 60000 */
  windowMs: 60_000,
  /** Pause before probing, in milliseconds. @default 30000 */
  cooldownMs: 30_000,
  /** Messages let through as a probe. @default 3 */
  probeMessages: 3,
});

/** Counts handler failures and timeouts; not messages that are bad in themselves. */
export function defaultCountsAsFailure(_error: unknown, kind: FailureKind): boolean {
  return kind === "thrown" || kind === "timeout" || kind === "retry-later";
}

/** The kill switch options once checked. */
export interface ResolvedKillSwitch {
  threshold: number;
  minMessages: number;
  windowMs: number;
  cooldownMs: number;
  probeMessages: number;
  countsAsFailure: (error: unknown, kind: FailureKind) => boolean;
}

const threshold = "a number greater than 0 and at most 1";

/** The zod schema of {@link KillSwitchOptions} (used by consume's options schema). */
export const killSwitchSchema = z.object({
  threshold: z
    .number({ error: threshold })
    .gt(0, { error: threshold })
    .max(1, { error: threshold })
    .default(killSwitchDefaults.threshold),
  minMessages: integer(1).default(killSwitchDefaults.minMessages),
  windowMs: integer(1).default(killSwitchDefaults.windowMs),
  cooldownMs: integer(0).default(killSwitchDefaults.cooldownMs),
  probeMessages: integer(1).default(killSwitchDefaults.probeMessages),
  countsAsFailure: fn<(error: unknown, kind: FailureKind) => boolean>().default(
    () => defaultCountsAsFailure,
  ),
});

/** Where the kill switch stands. */
export type KillSwitchState = "running" | "tripped" | "probing";

/** How many messages the consumer may take now. */
export type Intake = "all" | "probe" | "none";

/** One state change, as emitted by the consumer and logged. */
export type KillSwitchChange =
  | {
      state: "tripped";
      /** Counted failures and results that tripped it (a failed probe: 1 of the probes so far). */
      failures: number;
      total: number;
      /** True when a probe failed (rather than the window's rate). */
      probeFailed: boolean;
      /** When it will probe, in milliseconds from now. */
      cooldownMs: number;
    }
  | { state: "probing"; probeMessages: number }
  | { state: "resumed"; by: "probe" | "operator" };

/** What the kill switch drives: the consumer. */
export interface KillSwitchControl {
  /** The {@link KillSwitch.intake} may have changed: match the subscriptions to it. */
  update(): void;
  /** The state changed (emit, log, count). */
  changed(change: KillSwitchChange): void;
}

/** The state machine of one consumer's kill switch. */
export class KillSwitch {
  readonly #options: ResolvedKillSwitch;
  readonly #control: KillSwitchControl;
  readonly #now: () => number;
  readonly #window: FailureWindow;
  #state: KillSwitchState = "running";
  #timer: NodeJS.Timeout | undefined;
  /** Probe deliveries started and not yet settled. */
  #probes = new WeakSet<object>();
  #probesOutstanding = 0;
  #probesSucceeded = 0;

  /**
   * @param now - a monotonic clock in milliseconds (tests pass a fake one).
   */
  constructor(
    options: ResolvedKillSwitch,
    control: KillSwitchControl,
    now: () => number = () => performance.now(),
  ) {
    this.#options = options;
    this.#control = control;
    this.#now = now;
    this.#window = new FailureWindow(options.windowMs);
  }

  get state(): KillSwitchState {
    return this.#state;
  }

  /** How many messages the consumer may take now. */
  get intake(): Intake {
    if (this.#state === "running") return "all";
    if (this.#state === "tripped") return "none";
    return this.#probesOutstanding < this.#probesNeeded ? "probe" : "none";
  }

  get #probesNeeded(): number {
    return this.#options.probeMessages - this.#probesSucceeded;
  }

  /**
   * May this delivery start? False while tripped, and while probing once
   * enough probes run; the consumer hands a refused delivery back to the
   * queue.
   */
  admit(delivery: object): boolean {
    if (this.#state === "running") return true;
    if (this.#state === "tripped" || this.#probesOutstanding >= this.#probesNeeded) return false;
    this.#probes.add(delivery);
    this.#probesOutstanding++;
    // Enough probes are out: take no more until they settle.
    if (this.#probesOutstanding >= this.#probesNeeded) this.#control.update();
    return true;
  }

  /** Records how a delivery ended. */
  record(delivery: object, observation: DeliveryObservation): void {
    const counted = this.#classify(observation);
    if (this.#state === "probing") {
      // A delivery taken before the trip says nothing about the probe.
      if (!this.#probes.has(delivery)) return;
      this.#probes.delete(delivery);
      this.#probesOutstanding--;
      if (counted === "failure") {
        this.#trip({ failures: 1, total: this.#probesSucceeded + 1, probeFailed: true });
        return;
      }
      if (counted === "success") this.#probesSucceeded++;
      if (this.#probesSucceeded >= this.#options.probeMessages) {
        this.#resume("probe");
        return;
      }
      // A neutral result frees its probe slot.
      this.#control.update();
      return;
    }
    if (this.#state === "tripped" || counted === undefined) return;
    const now = this.#now();
    this.#window.record(counted === "failure", now);
    const { total, failures } = this.#window.counts(now);
    if (total >= this.#options.minMessages && failures / total >= this.#options.threshold) {
      this.#trip({ failures, total, probeFailed: false });
    }
  }

  /** An operator resumed the consumer: forget the trip and take every message. */
  reset(): void {
    if (this.#state === "running") return;
    this.#resume("operator");
  }

  /** Stops the cool-down timer (the consumer is closing). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #classify(observation: DeliveryObservation): "success" | "failure" | undefined {
    if (observation.kind === "success") return "success";
    if (observation.kind === "neutral") return undefined;
    return this.#options.countsAsFailure(observation.error, observation.failure)
      ? "failure"
      : undefined;
  }

  #trip(counts: { failures: number; total: number; probeFailed: boolean }): void {
    this.#enter("tripped");
    const cooldownMs = this.#options.cooldownMs;
    this.#timer = setTimeout(() => this.#probe(), cooldownMs);
    this.#timer.unref();
    this.#control.update();
    this.#control.changed({ state: "tripped", ...counts, cooldownMs });
  }

  #probe(): void {
    this.#timer = undefined;
    this.#enter("probing");
    this.#control.update();
    this.#control.changed({ state: "probing", probeMessages: this.#options.probeMessages });
  }

  #resume(by: "probe" | "operator"): void {
    this.#enter("running");
    this.#control.update();
    this.#control.changed({ state: "resumed", by });
  }

  /** Every transition starts a new period: no old result carries over. */
  #enter(state: KillSwitchState): void {
    this.stop();
    this.#state = state;
    this.#window.clear();
    this.#probes = new WeakSet();
    this.#probesOutstanding = 0;
    this.#probesSucceeded = 0;
  }
}

/** The log line of a state change. */
export function logKillSwitchChange(logger: Logger, change: KillSwitchChange): void {
  if (change.state === "tripped") {
    logger.warn(
      change,
      change.probeFailed
        ? "kill switch: a probe failed; tripped again, no messages taken until the next probe"
        : "kill switch tripped: too many failures; no messages taken until the probe",
    );
  } else if (change.state === "probing") {
    logger.info(change, "kill switch probing: letting a few messages through");
  } else {
    logger.info(change, "kill switch: consuming resumed");
  }
}
