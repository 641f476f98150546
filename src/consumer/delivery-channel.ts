/**
 * The consumer side of one AMQP channel: where its deliveries are acked or
 * nacked, and only while it is open (docs/architecture.md#handler-outcomes: acks for a dead channel
 * are dropped; the broker has requeued those deliveries already).
 *
 * Acks made in one tick leave as one `basic.ack` with `multiple` set, sent
 * on the next `process.nextTick`, while more deliveries of the channel wait
 * to be handled (their acks will follow in the same tick). When none waits,
 * as at prefetch 1 or for the last delivery of a batch, there is nothing to
 * fold the ack into, and it is sent at once: deferring it only held it back
 * behind the bookkeeping of the delivery (issue #10). At prefetch 50 the broker, not the client,
 * is the bottleneck, and an ack frame per message costs it dearly: measured
 * with `node bench/run.ts --only "consume, prefetch 50"`, warren drained at
 * 0.76× raw amqplib with one ack write per message, 0.89× with the writes of
 * a tick coalesced (coalesce.ts), and 1.18× with this. `multiple` acks every
 * outstanding delivery up to the tag, so this is only sound because a lane
 * settles its channel's deliveries one at a time, in delivery order: when a
 * delivery is acked, every earlier one on the channel has been acked or
 * nacked already, and later ones are not covered by its tag. A nack (and a
 * channel close) first sends the pending ack, so the frames leave in the
 * order the runtime settled the deliveries.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import { attemptOf, messageLogFields } from "./context.ts";

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

/** A {@link DeliveryChannel} whose acks of one tick are sent as one. */
export interface BatchedDeliveryChannel extends DeliveryChannel {
  /** Sends the pending ack now, if the channel is still open. */
  flush(): void;
}

/**
 * Wraps `channel`, which delivers to a single lane that settles its
 * deliveries in order (see the module comment); `isOpen` says whether it
 * is still open, `moreWaiting` whether deliveries of it wait to be handled
 * (when it says no, an ack is sent at once).
 */
export function batchedDeliveryChannel(
  channel: Channel,
  isOpen: () => boolean,
  logger: Pick<Logger, "debug">,
  moreWaiting: () => boolean = () => true,
): BatchedDeliveryChannel {
  // The channel closed between isOpen() and the write: the broker has
  // requeued the delivery already, so there is nothing to undo, only to note.
  const dropped = (what: string, message: ConsumeMessage, error: unknown) =>
    logger.debug(
      { ...messageLogFields(message, attemptOf(message)), err: error },
      `${what} dropped: channel closed`,
    );
  // The latest delivery acked in this tick; acking it with `multiple`
  // covers the earlier ones acked in the same tick.
  let pending: ConsumeMessage | undefined;
  const flush = () => {
    const message = pending;
    pending = undefined;
    if (message === undefined || !isOpen()) return;
    // isOpen() is checked first; the catch covers a close racing it.
    try {
      channel.ack(message, true);
    } catch (error) {
      dropped("ack", message, error);
    }
  };
  return {
    isOpen,
    flush,
    ack: (message) => {
      if (!moreWaiting()) {
        // It also covers an ack still pending from earlier in this tick.
        pending = message;
        flush();
        return;
      }
      if (pending === undefined) process.nextTick(flush);
      pending = message;
    },
    nack: (message, requeue) => {
      flush();
      if (!isOpen()) return;
      try {
        channel.nack(message, false, requeue);
      } catch (error) {
        dropped("nack", message, error);
      }
    },
  };
}
