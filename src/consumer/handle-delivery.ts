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
import { attemptOf, messageLogFields, TRACE_ID, type Traced } from "./context.ts";
import type { DeliveryChannel } from "./delivery-channel.ts";
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
