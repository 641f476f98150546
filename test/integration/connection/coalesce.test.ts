/**
 * The socket-write coalescing of src/connection/coalesce.ts against a real
 * broker: the frames amqplib's muxer writes in one pass leave as far fewer
 * socket writes than frames, and every message still arrives and is
 * confirmed; and a frame leaves within the tick it was made in.
 */
import type { Socket } from "node:net";
import amqp from "amqplib";
import { afterEach, beforeEach, expect, it } from "vitest";
import { coalesceSocketWrites } from "../../../src/connection/coalesce.ts";
import { createVhost, randomName, type TestVhost } from "../publisher/support.ts";

let vhost: TestVhost;

beforeEach(async () => {
  vhost = await createVhost();
});

afterEach(async () => {
  await vhost.close();
});

/** Counts the writes that reach the socket's handle (one per `write` or `writev` syscall batch). */
function countSocketWrites(model: amqp.ChannelModel): { readonly writes: number } {
  const socket = (model.connection as unknown as { stream: Socket }).stream;
  const counter = { writes: 0 };
  const internal = socket as unknown as {
    _write: (...args: unknown[]) => unknown;
    _writev: (...args: unknown[]) => unknown;
  };
  const write = internal._write;
  const writev = internal._writev;
  internal._write = function (this: unknown, ...args: unknown[]) {
    counter.writes++;
    return write.apply(this, args);
  };
  internal._writev = function (this: unknown, ...args: unknown[]) {
    counter.writes++;
    return writev.apply(this, args);
  };
  return counter;
}

it("sends a burst of 200 publishes in far fewer socket writes, all confirmed and delivered", async () => {
  const queue = randomName("coalesce");
  await vhost.channel.assertQueue(queue, { durable: false });
  const model = await amqp.connect(vhost.url, { noDelay: true });
  try {
    coalesceSocketWrites(model);
    const channel = await model.createConfirmChannel();
    const counter = countSocketWrites(model);
    for (let i = 0; i < 200; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    // Without coalescing each publish is its own write (200); the muxer's
    // passes bound them by its high-water mark instead.
    expect(counter.writes).toBeGreaterThan(0);
    expect(counter.writes).toBeLessThan(50);
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(200);
  } finally {
    await model.close();
  }
});

it("writes a lone publish at once: its confirm arrives without a second publish to push it", async () => {
  const queue = randomName("coalesce-lone");
  await vhost.channel.assertQueue(queue, { durable: false });
  const model = await amqp.connect(vhost.url, { noDelay: true });
  try {
    coalesceSocketWrites(model);
    // Wrapping twice must not double the corking.
    coalesceSocketWrites(model);
    const channel = await model.createConfirmChannel();
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) =>
        channel.sendToQueue(queue, Buffer.from(`lone${i}`), {}, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(20);
  } finally {
    await model.close();
  }
});

it("writes a frame within the tick it was made in, not on the event loop's next check phase", async () => {
  const queue = randomName("coalesce-tick");
  await vhost.channel.assertQueue(queue, { durable: false });
  const model = await amqp.connect(vhost.url, { noDelay: true });
  try {
    coalesceSocketWrites(model);
    const channel = await model.createConfirmChannel();
    const counter = countSocketWrites(model);
    const confirmed = channel.waitForConfirms();
    channel.sendToQueue(queue, Buffer.from("now"));
    // amqplib alone writes from a setImmediate scheduled after this one, so
    // this callback would see no write yet.
    const writesByNextCheckPhase = await new Promise<number>((resolve) =>
      setImmediate(() => resolve(counter.writes)),
    );
    expect(writesByNextCheckPhase).toBe(1);
    await confirmed;
    // A burst made in one tick still leaves as one write.
    const before = counter.writes;
    for (let i = 0; i < 50; i++) channel.sendToQueue(queue, Buffer.from(`burst${i}`));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(counter.writes - before).toBe(1);
    await channel.waitForConfirms();
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(51);
  } finally {
    await model.close();
  }
});
