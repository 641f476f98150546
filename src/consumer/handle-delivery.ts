/**
 * What happens to one delivery: decide its verdict (verdict.ts: decode,
 * run the handler, judge), then settle it (settle-delivery.ts) by the outcome
 * table of docs/architecture.md#handler-outcomes. No path drops a message; the worst case is a
 * duplicate.
 */
import type { ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import type { ConfirmedSender } from "../publisher/envelope.ts";
import type { RetryPolicy } from "../topology/model.ts";
import { attemptOf } from "./context.ts";
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
}

/** Handles one delivery to the end: it never throws. */
export async function handleDelivery<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  channel: DeliveryChannel,
): Promise<void> {
  const attempt = attemptOf(message);
  const timing: HandlerTiming = { seconds: -1, result: "success" };
  let verdict: Verdict;
  try {
    verdict = await judge(rt, message, attempt, timing);
  } catch (error) {
    // Only a bug in warren or a guard store gets here; keep the message.
    rt.logger.error({ err: error, messageId: message.properties.messageId }, "consumer failure");
    verdict = { kind: "requeue", why: "internal error" };
  }
  await settle(rt, message, channel, attempt, verdict);
  // After the ack, so that the bookkeeping never delays the next delivery.
  if (timing.seconds >= 0) rt.meters.duration[timing.result].observe(timing.seconds);
}
