/**
 * What happens to one delivery: decide its verdict (verdict.ts: decode,
 * run the handler, judge), then settle it (settle-delivery.ts) by the outcome
 * table of docs/architecture.md#handler-outcomes. No path drops a message; the worst case is a
 * duplicate.
 */
import type { ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import type { DeliverySpan, Tracing } from "../observability/tracing.ts";
import type { ConfirmedSender } from "../publisher/envelope.ts";
import type { RetryPolicy } from "../topology/model.ts";
import { messageLogFields, TRACE_ID, type Traced } from "./context.ts";
import type { DeliveryChannel } from "./delivery-channel.ts";
import { readAttempt } from "./delivery-headers.ts";
import { type HoldState, nextHeldAttempt, waitHeld } from "./hold.ts";
import { type DeliveryObservation, observationOf } from "./kill-switch.ts";
import type { ConsumerMeters } from "./meters.ts";
import type { Handler, ResolvedConsumeOptions } from "./options.ts";
import { settle } from "./settle-delivery.ts";
import { type HandlerTiming, judge, type Verdict } from "./verdict.ts";

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
  /** Told how each delivery ended, once it is settled (the kill switch listens here). */
  observe?: (message: ConsumeMessage, observation: DeliveryObservation) => void;
  /** Aborted when the consumer closes: ends a held retry's wait (hold.ts). */
  stopping?: AbortSignal;
}

/**
 * Handles one delivery to the end: it never throws. With tracing on, the
 * delivery runs inside a consumer span whose trace id every log line of the
 * message carries, and the span ends with the delivery's outcome.
 */
export function handleDelivery<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
): Promise<void> {
  const attempt = checkedAttempt(rt, message);
  const tracing = rt.tracing;
  if (tracing === undefined) return deliver(rt, message, channel, attempt, undefined);
  return tracing.consume(message, rt.queue, attempt, (span) => {
    (message as Traced)[TRACE_ID] = span.traceId;
    return deliver(rt, message, channel, attempt, span);
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
  firstAttempt: number,
  span: DeliverySpan | undefined,
): Promise<void> {
  let attempt = firstAttempt;
  let timing = newTiming();
  let verdict = await decide(rt, message, attempt, timing);
  let held: HoldState | undefined;
  while (rt.options.ordering === "hold" && verdict.kind === "retry") {
    // Retried in place: the message keeps its place at the head of its lane.
    held ??= { uncounted: 0 };
    const next = nextHeldAttempt(rt, verdict, attempt, held);
    if (next === undefined) {
      verdict = { kind: "dead-letter", reason: "retries-exhausted", error: verdict.error };
      break;
    }
    rt.observe?.(message, observationOf(verdict));
    const waiting = finishAttempt(rt, message, attempt, timing);
    if (waiting !== undefined) await waiting;
    rt.meters.consumed.retried.inc();
    rt.meters.retries.get(verdict.tier.queue)?.inc();
    rt.logger.info(
      { ...messageLogFields(message, attempt), err: verdict.error, delayMs: verdict.tier.delayMs },
      "handler failed, holding the message and retrying it in place (ordering: hold)",
    );
    const ranOut = await waitHeld(verdict.tier.delayMs, rt.stopping);
    // Closing, or the channel died: the broker has (or gets) it back, unacked.
    if (!ranOut || !channel.isOpen()) return;
    attempt = next;
    timing = newTiming();
    verdict = await decide(rt, message, attempt, timing);
  }
  if (span !== undefined) spanOutcome(span, verdict);
  // An ack settles synchronously (undefined); only other verdicts are awaited.
  const settling = settle(rt, message, channel, attempt, verdict);
  if (settling !== undefined) await settling;
  rt.observe?.(message, observationOf(verdict));
  const waiting = finishAttempt(rt, message, attempt, timing);
  if (waiting !== undefined) await waiting;
}

function newTiming(): HandlerTiming {
  return { seconds: -1, result: "success", overrun: undefined };
}

/** Runs one attempt into a verdict; never throws. */
async function decide<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  attempt: number,
  timing: HandlerTiming,
): Promise<Verdict> {
  try {
    return await judge(rt, message, attempt, timing);
  } catch (error) {
    // Only a bug in warren or a guard store gets here; keep the message.
    rt.logger.error({ ...messageLogFields(message, attempt), err: error }, "consumer failure");
    return { kind: "requeue", why: "internal error" };
  }
}

/**
 * The bookkeeping of one attempt, after the message is settled (or held).
 * Synchronous (undefined) unless the handler outlived its deadline: then
 * the promise of the lane's wait for it.
 */
function finishAttempt<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  attempt: number,
  timing: HandlerTiming,
): Promise<void> | undefined {
  // After the ack, so that the bookkeeping never delays the next delivery.
  if (timing.seconds >= 0) rt.meters.duration[timing.result].observe(timing.seconds);
  if (timing.overrun === undefined) return undefined;
  return awaitOverrun(rt, message, attempt, timing.overrun);
}

/** The delivery's attempt; a forged or broken `warren-attempt` counts as 1 and is logged. */
function checkedAttempt<T>(rt: DeliveryRuntime<T>, message: ConsumeMessage): number {
  const read = readAttempt(message.properties.headers);
  if (read.state === "valid") return read.value;
  if (read.state === "invalid") {
    rt.logger.warn(
      { messageId: message.properties.messageId, detail: read.detail },
      "malformed warren-attempt header ignored: taken as attempt 1",
    );
  }
  return 1;
}

/**
 * Holds the lane until a handler that ignored its aborted signal really
 * settles: `concurrency` bounds the handlers running, not the messages
 * being judged. The message itself was settled at the deadline already.
 */
async function awaitOverrun<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  attempt: number,
  overrun: Promise<void>,
): Promise<void> {
  const log = { ...messageLogFields(message, attempt), timeoutMs: rt.options.timeoutMs };
  rt.meters.overrun.inc();
  rt.logger.warn(
    log,
    "handler ignored its aborted signal and still runs past its timeout; its lane waits for it",
  );
  const started = performance.now();
  await overrun;
  rt.meters.inFlight.dec();
  rt.logger.warn(
    { ...log, overrunMs: Math.round(performance.now() - started) },
    "overrunning handler settled; its lane takes messages again",
  );
}
