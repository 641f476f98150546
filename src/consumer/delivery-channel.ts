/**
 * The consumer side of one AMQP channel: where its deliveries are acked or
 * nacked, and only while it is open (docs/architecture.md#handler-outcomes: acks for a dead channel
 * are dropped; the broker has requeued those deliveries already).
 *
 * Acks made in one tick leave as one `basic.ack` with `multiple` set, sent
 * on the next `process.nextTick`. At prefetch 50 the broker, not the client,
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
import type { DeliveryChannel } from "./outcome.ts";

/** A {@link DeliveryChannel} whose acks of one tick are sent as one. */
export interface BatchedDeliveryChannel extends DeliveryChannel {
  /** Sends the pending ack now, if the channel is still open. */
  flush(): void;
}

/**
 * Wraps `channel`, which delivers to a single lane that settles its
 * deliveries in order (see the module comment); `isOpen` says whether it
 * is still open.
 */
export function batchedDeliveryChannel(
  channel: Channel,
  isOpen: () => boolean,
): BatchedDeliveryChannel {
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
    } catch {}
  };
  return {
    isOpen,
    flush,
    ack: (message) => {
      if (pending === undefined) process.nextTick(flush);
      pending = message;
    },
    nack: (message, requeue) => {
      flush();
      try {
        channel.nack(message, false, requeue);
      } catch {}
    },
  };
}
