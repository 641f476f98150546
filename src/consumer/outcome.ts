/**
 * What happens to one delivery: decode it, run the handler (through the
 * idempotency guard when there is one), turn the result into a verdict, and
 * settle the delivery by the outcome table of docs/architecture.md#handler-outcomes.
 *
 * The one rule every path keeps: the original is acked only after the copy
 * that replaces it (retry or dead-letter) is confirmed by the broker. When
 * the copy cannot be published, the original is requeued; when the channel
 * that delivered it is gone, nothing is sent at all and the broker
 * redelivers it. So no path drops a message; the worst case is a duplicate.
 */
import type { ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import { NonRetryableError } from "../errors.ts";
import type { ConsumeOutcome, WarrenMetrics } from "../observability/metrics.ts";
import type { DeliverySpan, Tracing } from "../observability/tracing.ts";
import type { ConfirmedSender, Envelope } from "../publisher/envelope.ts";
import { retryTierFor } from "../topology/compile.ts";
import { formatDelay } from "../topology/duration.ts";
import type { RetryPolicy, RetryTier } from "../topology/model.ts";
import { attemptOf, createContext, messageLogFields, TRACE_ID, type Traced } from "./context.ts";
import { decodeBody } from "./decode.ts";
import { idempotencyKeyOf } from "./idempotency.ts";
import type { Handler, ResolvedConsumeOptions } from "./options.ts";
import { type DeadLetterReason, deadLetterEnvelope, retryEnvelope } from "./retry.ts";

/** Everything one consumer shares between its deliveries. */
export interface DeliveryRuntime<T> {
  queue: string;
  policy: RetryPolicy;
  options: ResolvedConsumeOptions<T>;
  handler: Handler<T>;
  publisher: ConfirmedSender;
  logger: Logger;
  meters: ConsumerMeters;
  /** Present only when the client was created with `tracing` on. */
  tracing: Tracing | undefined;
}

/**
 * The consumer's metric series with their labels bound once: looking a
 * series up by labels on every message costs more than the rest of the
 * bookkeeping together.
 */
export interface ConsumerMeters {
  consumed: Record<ConsumeOutcome, { inc(): void }>;
  duration: Record<"success" | "failure", { observe(seconds: number): void }>;
  inFlight: { inc(): void; dec(): void };
  age: { observe(seconds: number): void };
  timeouts: { inc(): void };
  /** By tier queue name. */
  retries: Map<string, { inc(): void }>;
  deadLetters: Record<DeadLetterReason, { inc(): void }>;
}

const deadLetterReasons: readonly DeadLetterReason[] = [
  "retries-exhausted",
  "non-retryable",
  "invalid-payload",
  "undecodable",
  "too-large",
];

/**
 * Exports a counter's series at 0 before its first event: `rate()` and
 * `increase()` miss the first increment of a series that appears from nothing.
 */
function zeroed<C extends { inc(by?: number): void }>(child: C): C {
  child.inc(0);
  return child;
}

/** Binds the metrics of one queue. */
export function bindMeters(
  metrics: WarrenMetrics,
  queue: string,
  policy: RetryPolicy,
): ConsumerMeters {
  const consumed = (outcome: ConsumeOutcome) =>
    zeroed(metrics.messagesConsumed.labels({ queue, outcome }));
  const deadLetters = {} as Record<DeadLetterReason, { inc(): void }>;
  for (const reason of deadLetterReasons) {
    deadLetters[reason] = zeroed(metrics.deadLetters.labels({ queue, reason }));
  }
  return {
    age: metrics.messageAge.labels({ queue }),
    timeouts: zeroed(metrics.handlerTimeouts.labels({ queue })),
    retries: new Map(
      policy.tiers.map((tier) => [
        tier.queue,
        zeroed(metrics.retries.labels({ queue, tier: formatDelay(tier.delayMs) })),
      ]),
    ),
    deadLetters,
    consumed: {
      acked: consumed("acked"),
      retried: consumed("retried"),
      dead_lettered: consumed("dead_lettered"),
      duplicate: consumed("duplicate"),
      requeued: consumed("requeued"),
    },
    duration: {
      success: metrics.handlerDuration.labels({ queue, result: "success" }),
      failure: metrics.handlerDuration.labels({ queue, result: "failure" }),
    },
    inFlight: metrics.handlersInFlight.labels({ queue }),
  };
}

/** How long the handler ran, observed once the delivery is settled. */
interface HandlerTiming {
  seconds: number;
  result: "success" | "failure";
}

/**
 * The channel a delivery came on. Acks and nacks only make sense there: once
 * it is closed the broker has already requeued the delivery, and its tag
 * means nothing (or something else) on any other channel.
 */
export interface DeliveryChannel {
  isOpen(): boolean;
  ack(message: ConsumeMessage): void;
  nack(message: ConsumeMessage, requeue: boolean): void;
}

type Verdict =
  | { kind: "ack"; outcome: "acked" | "duplicate" }
  | { kind: "retry"; tier: RetryTier; nextAttempt: number; error: unknown }
  | { kind: "dead-letter"; reason: DeadLetterReason; error: unknown }
  | { kind: "requeue"; why: string };

/** A handler that ran past its `timeoutMs`. */
export class HandlerTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`handler did not finish within ${timeoutMs} ms`);
    this.name = "HandlerTimeoutError";
  }
}

function isNonRetryable(error: unknown): boolean {
  // The name check covers a second copy of warren in node_modules.
  return (
    error instanceof NonRetryableError ||
    (error instanceof Error && error.name === "NonRetryableError")
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Handles one delivery to the end: it never throws. */
export function handleDelivery<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
): Promise<void> {
  const tracing = rt.tracing;
  if (tracing === undefined) return deliver(rt, message, channel, undefined);
  return tracing.consume(message, rt.queue, attemptOf(message), (span) => {
    (message as Traced)[TRACE_ID] = span.traceId;
    return deliver(rt, message, channel, span);
  });
}

function spanOutcome(span: DeliverySpan, verdict: Verdict): void {
  if (verdict.kind === "ack") span.outcome(verdict.outcome);
  else if (verdict.kind === "requeue") span.outcome("requeued");
  else span.outcome(verdict.kind === "retry" ? "retried" : "dead_lettered", verdict.error);
}

async function deliver<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
  span: DeliverySpan | undefined,
): Promise<void> {
  const attempt = attemptOf(message);
  const timing: HandlerTiming = { seconds: -1, result: "success" };
  let verdict: Verdict;
  try {
    verdict = await judge(rt, message, attempt, timing);
  } catch (error) {
    // Only a bug in warren or a guard store gets here; keep the message.
    rt.logger.error({ ...messageLogFields(message, attempt), err: error }, "consumer failure");
    verdict = { kind: "requeue", why: "internal error" };
  }
  if (span !== undefined) spanOutcome(span, verdict);
  await settle(rt, message, channel, attempt, verdict);
  // After the ack, so that the bookkeeping never delays the next delivery.
  if (timing.seconds >= 0) rt.meters.duration[timing.result].observe(timing.seconds);
}

async function judge<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  attempt: number,
  timing: HandlerTiming,
): Promise<Verdict> {
  // The publish timestamp is in whole seconds (AMQP); a copy keeps it, so a
  // retried message's age includes its time in the tiers.
  const published = message.properties.timestamp as unknown;
  if (typeof published === "number" && published > 0) {
    rt.meters.age.observe(Math.max(0, Date.now() / 1000 - published));
  }
  const decoded = decodeBody(message.content, rt.options.maxBytes, rt.options.schema);
  if (!decoded.ok) return { kind: "dead-letter", reason: decoded.reason, error: decoded.error };

  let status: "completed" | "duplicate" | "in-progress";
  const started = performance.now();
  rt.meters.inFlight.inc();
  try {
    status = await runHandler(rt, decoded.value, message, attempt);
  } catch (error) {
    timing.result = "failure";
    return failureVerdict(rt.policy, attempt, error);
  } finally {
    timing.seconds = (performance.now() - started) / 1000;
    rt.meters.inFlight.dec();
  }
  if (status === "completed") return { kind: "ack", outcome: "acked" };
  if (status === "duplicate") {
    rt.logger.debug(
      messageLogFields(message, attempt),
      "duplicate: already handled, acking without calling the handler",
    );
    return { kind: "ack", outcome: "duplicate" };
  }
  // Another consumer holds the lease: come back after the first tier's
  // delay, on the same attempt (this one did not fail).
  const tier = rt.policy.tiers[0];
  if (tier === undefined) return { kind: "requeue", why: "idempotency key in progress" };
  return { kind: "retry", tier, nextAttempt: attempt, error: undefined };
}

function failureVerdict(policy: RetryPolicy, attempt: number, error: unknown): Verdict {
  if (isNonRetryable(error)) return { kind: "dead-letter", reason: "non-retryable", error };
  const tier = retryTierFor(policy, attempt);
  if (tier === undefined) return { kind: "dead-letter", reason: "retries-exhausted", error };
  return { kind: "retry", tier, nextAttempt: attempt + 1, error };
}

/** Runs the handler with its deadline; throws what the handler threw. */
async function runHandler<T>(
  rt: DeliveryRuntime<T>,
  value: T,
  message: ConsumeMessage,
  attempt: number,
): Promise<"completed" | "duplicate" | "in-progress"> {
  // The controller is made only when a handler reads its signal or the
  // deadline passes: most handlers never look at it.
  let controller: AbortController | undefined;
  const signal = () => {
    controller ??= new AbortController();
    return controller.signal;
  };
  const contextFor = (scope: unknown) =>
    createContext(rt.queue, message, attempt, signal, rt.logger, scope);
  const idempotency = rt.options.idempotency;
  let run: Promise<"completed" | "duplicate" | "in-progress">;
  if (idempotency === undefined) {
    const result = rt.handler(value, contextFor(undefined));
    // A synchronous handler has finished already: no deadline to watch.
    if (typeof (result as PromiseLike<void> | undefined)?.then !== "function") return "completed";
    run = Promise.resolve(result).then(() => "completed");
  } else {
    // No key means the guard cannot keep its promise: idempotencyKeyOf
    // throws a NonRetryableError and the message is dead-lettered.
    const key = idempotencyKeyOf(idempotency.key, value, contextFor(undefined));
    run = idempotency.guard
      .run(key, async (scope) => rt.handler(value, contextFor(scope)))
      .then((outcome) => outcome.status);
  }
  const timeoutMs = rt.options.timeoutMs;
  if (timeoutMs === 0) return run;

  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      rt.meters.timeouts.inc();
      const error = new HandlerTimeoutError(timeoutMs);
      controller ??= new AbortController();
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    run.then(
      (status) => {
        clearTimeout(timer);
        resolve(status);
      },
      (error: unknown) => {
        clearTimeout(timer);
        // A handler that ignored its signal may fail after the deadline.
        if (timedOut) {
          rt.logger.debug(
            { ...messageLogFields(message, attempt), err: error },
            "handler failed after its timeout",
          );
        }
        reject(error);
      },
    );
  });
}

function count(rt: DeliveryRuntime<unknown>, outcome: ConsumeOutcome): void {
  rt.meters.consumed[outcome].inc();
}

async function settle<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
  attempt: number,
  verdict: Verdict,
): Promise<void> {
  if (verdict.kind === "ack") {
    if (ack(rt, message, channel, attempt)) count(rt as DeliveryRuntime<unknown>, verdict.outcome);
    return;
  }
  // Built only off the ack path: the common case logs nothing.
  const log = messageLogFields(message, attempt);
  if (verdict.kind === "requeue") {
    rt.logger.warn({ ...log, why: verdict.why }, "requeueing message");
    await requeue(rt, message, channel);
    return;
  }
  if (!channel.isOpen()) {
    // The broker already took the delivery back; a copy now would be a duplicate.
    rt.logger.debug(log, "channel gone before settling: broker redelivers");
    return;
  }
  const now = new Date();
  let envelope: Envelope;
  let outcome: ConsumeOutcome;
  let meter: { inc(): void } | undefined;
  if (verdict.kind === "retry") {
    meter = rt.meters.retries.get(verdict.tier.queue);
    envelope = retryEnvelope(message, verdict.tier, rt.policy, verdict.nextAttempt, now);
    outcome = "retried";
    rt.logger.info(
      { ...log, err: verdict.error, retryQueue: verdict.tier.queue, delayMs: verdict.tier.delayMs },
      verdict.error === undefined
        ? "idempotency key in progress, retrying later"
        : "handler failed, retrying",
    );
  } else {
    envelope = deadLetterEnvelope(message, rt.policy, attempt, verdict.reason, verdict.error, now);
    outcome = "dead_lettered";
    meter = rt.meters.deadLetters[verdict.reason];
    rt.logger.warn(
      { ...log, err: verdict.error, reason: verdict.reason, dlq: rt.policy.deadLetterQueue },
      "dead-lettering message",
    );
  }
  try {
    await rt.publisher.send(envelope);
  } catch (error) {
    rt.logger.error(
      { ...log, err: error, target: envelope.routingKey },
      "could not publish the copy; the original is requeued",
    );
    await requeue(rt, message, channel);
    return;
  }
  if (ack(rt, message, channel, attempt)) {
    count(rt as DeliveryRuntime<unknown>, outcome);
    meter?.inc();
  } else
    rt.logger.warn(
      { ...log, target: envelope.routingKey },
      "copy published but channel gone: the original will be redelivered too",
    );
}

function ack<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
  attempt: number,
): boolean {
  if (!channel.isOpen()) {
    rt.logger.debug(messageLogFields(message, attempt), "ack dropped: channel gone");
    return false;
  }
  channel.ack(message);
  return true;
}

async function requeue<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
): Promise<void> {
  if (rt.options.requeueDelayMs > 0) await sleep(rt.options.requeueDelayMs);
  if (!channel.isOpen()) return;
  channel.nack(message, true);
  count(rt as DeliveryRuntime<unknown>, "requeued");
}
