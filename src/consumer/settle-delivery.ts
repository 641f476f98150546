/**
 * Carries out a verdict on the channel the delivery came on. The one rule
 * every path keeps: the original is acked only after the copy that replaces
 * it (retry or dead-letter) is confirmed by the broker; when the copy cannot
 * be published the original is requeued; when the channel is gone nothing is
 * sent and the broker redelivers.
 */
import type { ConsumeMessage } from "amqplib";
import type { ConsumeOutcome } from "../observability/metrics.ts";
import type { Envelope } from "../publisher/envelope.ts";
import { messageLogFields } from "./context.ts";
import type { DeliveryChannel } from "./delivery-channel.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import { deadLetterEnvelope, retryEnvelope } from "./retry.ts";
import type { Verdict } from "./verdict.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function count(rt: DeliveryRuntime<unknown>, outcome: ConsumeOutcome): void {
  rt.meters.consumed[outcome].inc();
}

/** Acks, copies then acks, or requeues `message` as `verdict` says. */
export async function settle<T>(
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
