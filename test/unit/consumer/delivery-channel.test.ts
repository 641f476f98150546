import type { Channel, ConsumeMessage } from "amqplib";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { batchedDeliveryChannel } from "../../../src/consumer/delivery-channel.ts";

/** The frames a channel was asked to send, in order. */
function recordingChannel(options: { throwOnWrite?: boolean } = {}) {
  const frames: string[] = [];
  const channel = {
    ack(message: ConsumeMessage, allUpTo: boolean) {
      if (options.throwOnWrite) throw new Error("Channel closed");
      frames.push(`ack ${message.fields.deliveryTag}${allUpTo ? " multiple" : ""}`);
    },
    nack(message: ConsumeMessage, allUpTo: boolean, requeue: boolean) {
      if (options.throwOnWrite) throw new Error("Channel closed");
      frames.push(
        `nack ${message.fields.deliveryTag}${allUpTo ? " multiple" : ""}${requeue ? " requeue" : ""}`,
      );
    },
  };
  return { channel: channel as unknown as Channel, frames };
}
const delivery = (tag: number) =>
  ({ fields: { deliveryTag: tag }, properties: { messageId: `m-${tag}` } }) as ConsumeMessage;
const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));
/** A debug logger whose records' messages land in `lines` synchronously. */
function recordingLogger() {
  const lines: string[] = [];
  const stream = { write: (line: string) => lines.push((JSON.parse(line) as { msg: string }).msg) };
  return { lines, logger: pino({ level: "debug" }, stream) };
}

describe("batchedDeliveryChannel", () => {
  it("sends the acks of one tick as one ack with multiple, on the next tick", async () => {
    const { channel, frames } = recordingChannel();
    const d = batchedDeliveryChannel(channel, () => true, recordingLogger().logger);
    d.ack(delivery(1));
    d.ack(delivery(2));
    d.ack(delivery(3));
    expect(frames).toEqual([]);
    await tick();
    expect(frames).toEqual(["ack 3 multiple"]);
    d.ack(delivery(4));
    await tick();
    expect(frames).toEqual(["ack 3 multiple", "ack 4 multiple"]);
  });

  it("sends an ack at once when no more deliveries wait, covering the earlier acks of the tick", async () => {
    const { channel, frames } = recordingChannel();
    let waiting = 2;
    const d = batchedDeliveryChannel(
      channel,
      () => true,
      recordingLogger().logger,
      () => waiting > 0,
    );
    d.ack(delivery(1));
    waiting--;
    d.ack(delivery(2));
    waiting--;
    expect(frames).toEqual([]);
    d.ack(delivery(3));
    // The last of the batch: sent now, with multiple, not on the next tick.
    expect(frames).toEqual(["ack 3 multiple"]);
    d.ack(delivery(4));
    expect(frames).toEqual(["ack 3 multiple", "ack 4 multiple"]);
    await tick();
    expect(frames).toEqual(["ack 3 multiple", "ack 4 multiple"]);
  });

  it("drops an immediate ack for a closed channel too", () => {
    const { channel, frames } = recordingChannel();
    const d = batchedDeliveryChannel(
      channel,
      () => false,
      recordingLogger().logger,
      () => false,
    );
    d.ack(delivery(1));
    expect(frames).toEqual([]);
  });

  it("sends a pending ack before a nack, so frames leave in settling order", async () => {
    const { channel, frames } = recordingChannel();
    const d = batchedDeliveryChannel(channel, () => true, recordingLogger().logger);
    d.ack(delivery(1));
    d.nack(delivery(2), true);
    d.nack(delivery(3), false);
    await tick();
    expect(frames).toEqual(["ack 1 multiple", "nack 2 requeue", "nack 3"]);
  });

  it("flush() sends the pending ack at once, and only once", async () => {
    const { channel, frames } = recordingChannel();
    const d = batchedDeliveryChannel(channel, () => true, recordingLogger().logger);
    d.ack(delivery(7));
    d.flush();
    expect(frames).toEqual(["ack 7 multiple"]);
    await tick();
    expect(frames).toEqual(["ack 7 multiple"]);
  });

  it("drops acks and nacks for a closed channel: the broker has requeued them", async () => {
    const { channel, frames } = recordingChannel();
    let open = true;
    const d = batchedDeliveryChannel(channel, () => open, recordingLogger().logger);
    d.ack(delivery(1));
    open = false;
    await tick();
    d.nack(delivery(2), true);
    expect(frames).toEqual([]);
    expect(d.isOpen()).toBe(false);
  });

  it("logs, and does not throw, when the channel closes between the check and the write", async () => {
    const { channel } = recordingChannel({ throwOnWrite: true });
    const { logger, lines } = recordingLogger();
    const d = batchedDeliveryChannel(channel, () => true, logger);
    d.ack(delivery(1));
    await tick();
    expect(() => d.nack(delivery(2), true)).not.toThrow();
    expect(lines).toEqual(["ack dropped: channel closed", "nack dropped: channel closed"]);
  });
});
