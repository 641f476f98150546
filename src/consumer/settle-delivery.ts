/**
 * Carries out a verdict on the channel the delivery came on. The one rule
 * every path keeps: the original is acked only after the copy that replaces
 * it (retry or dead-letter) is confirmed by the broker; when the publisher
 * fails (nack, timeout, connection) the original is requeued; when the
 * channel is gone nothing is sent and the broker redelivers.
 *
 * And no message may block its queue: a copy that can never be published
 * (amqplib cannot encode it) is not retried by requeueing the original,
 * which would put it back at the head of the queue for ever. A reduced copy
 * is tried instead (send-copy.ts), and as the last resort the original is
 * rejected without requeue, so the broker dead-letters it into `Q.dlq` by
 * the queue's own arguments.
 */
import type { ConsumeMessage } from "amqplib";
import type { ConsumeOutcome } from "../observability/metrics.ts";
import type { Envelope } from "../publisher/envelope.ts";
import { messageLogFields } from "./context.ts";
import type { DeliveryChannel } from "./delivery-channel.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import { deadLetterEnvelope, retryEnvelope } from "./retry.ts";
import { sendCopy } from "./send-copy.ts";
import type { Verdict } from "./verdict.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function count(rt: DeliveryRuntime<unknown>, outcome: ConsumeOutcome): void {
  rt.meters.consumed[outcome].inc();
}

/**
 * Acks, copies then acks, or requeues `message` as `verdict` says. An ack
 * is done synchronously and returns undefined: the common case costs no
 * promise; the other verdicts return the promise of their work.
 */
export function settle<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
  attempt: number,
  verdict: Verdict,
): Promise<void> | undefined {
  if (verdict.kind === "ack") {
    if (ack(rt, message, channel, attempt)) count(rt as DeliveryRuntime<unknown>, verdict.outcome);
    return undefined;
  }
  return settleOtherwise(rt, message, channel, attempt, verdict);
}

async function settleOtherwise<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
  attempt: number,
  verdict: Exclude<Verdict, { kind: "ack" }>,
): Promise<void> {
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
    envelope = retryEnvelope(message, verdict.tier, rt.policy, verdict.nextAttempt, now, {
      uncountedRetries: verdict.uncountedRetries,
    });
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
  const sent = await sendCopy(rt, envelope, log);
  if (sent === "transient") {
    await requeue(rt, message, channel);
    return;
  }
  if (sent === "impossible") {
    // A dead-letter verdict still ends in the DLQ (by the queue's arguments).
    if (
      reject(rt, message, channel, attempt, envelope.routingKey) &&
      verdict.kind === "dead-letter"
    ) {
      meter?.inc();
    }
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

/**
 * The last resort for a message no copy can be made of: reject it without
 * requeue, so that the broker moves it to `Q.dlq` through the queue's own
 * dead-letter arguments (without warren's failure headers).
 */
function reject<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
  attempt: number,
  target: string,
): boolean {
  if (!channel.isOpen()) return false; // the broker has it back already
  channel.nack(message, false);
  count(rt as DeliveryRuntime<unknown>, "rejected");
  rt.logger.error(
    { ...messageLogFields(message, attempt), target, dlq: rt.policy.deadLetterQueue },
    "message rejected without requeue; the broker dead-letters it to the queue's DLQ",
  );
  return true;
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
