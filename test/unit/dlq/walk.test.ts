/**
 * QueueWalk against an in-memory queue that requeues the two ways RabbitMQ
 * does (dlq/walk.ts's module comment): a classic queue puts a nacked message
 * back at its old position, a quorum queue appends it to the tail. The
 * integration tests (test/integration/dlq) run the same walk on a broker.
 */
import type { Channel, GetMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { QueueWalk } from "../../../src/dlq/walk.ts";

type Requeue = "in-place" | "to-tail";

/** `nackDelayMs`: a nack takes effect that much later, as on a busy quorum queue. */
function memoryQueue(bodies: string[], requeue: Requeue, nackDelayMs = 0) {
  interface Entry {
    body: string;
    position: number;
    redelivered: boolean;
  }
  let ready: Entry[] = bodies.map((body, position) => ({ body, position, redelivered: false }));
  const unacked = new Map<number, Entry>();
  let tag = 0;
  let gets = 0;
  const channel = {
    async get(): Promise<GetMessage | false> {
      const entry = ready.shift();
      if (entry === undefined) return false;
      gets++;
      const deliveryTag = ++tag;
      unacked.set(deliveryTag, entry);
      return {
        content: Buffer.from(entry.body),
        fields: { deliveryTag, redelivered: entry.redelivered },
        properties: { messageId: entry.body, headers: {} },
      } as unknown as GetMessage;
    },
    async checkQueue() {
      return { messageCount: ready.length };
    },
    ack(message: GetMessage) {
      unacked.delete(message.fields.deliveryTag);
    },
    nack(message: GetMessage, _allUpTo: boolean, requeueIt: boolean) {
      const entry = unacked.get(message.fields.deliveryTag);
      if (entry === undefined) throw new Error("unknown delivery tag");
      unacked.delete(message.fields.deliveryTag);
      if (!requeueIt) return;
      const back = { ...entry, redelivered: true };
      const apply = () => {
        ready.push(back);
        if (requeue === "in-place") ready = ready.sort((a, b) => a.position - b.position);
      };
      if (nackDelayMs === 0) apply();
      else setTimeout(apply, nackDelayMs);
    },
  };
  return {
    channel: channel as unknown as Channel,
    contents: () => ready.map((e) => e.body),
    unacked: () => unacked.size,
    gets: () => gets,
  };
}

const bodies = ["a", "b", "c", "d", "e"];

describe.each(["in-place", "to-tail"] as const)("QueueWalk on a queue that requeues %s", (mode) => {
  it("reads the first messages in order and leaves the queue as it was", async () => {
    const queue = memoryQueue(bodies, mode);
    const walk = new QueueWalk(queue.channel, "q", bodies.length);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const message = await walk.next();
      if (message === false) break;
      seen.push(message.content.toString());
      await walk.putBack(message);
    }
    await walk.finish();
    expect(seen).toEqual(["a", "b", "c"]);
    expect(queue.contents()).toEqual(bodies);
    expect(queue.unacked()).toBe(0);
  });

  it("reads every message once, then reports the end", async () => {
    const queue = memoryQueue(bodies, mode);
    const walk = new QueueWalk(queue.channel, "q", bodies.length);
    const seen: string[] = [];
    for (let message = await walk.next(); message !== false; message = await walk.next()) {
      seen.push(message.content.toString());
      await walk.putBack(message);
    }
    await walk.finish();
    expect(seen).toEqual(bodies);
    expect(walk.fetched).toBe(bodies.length);
    expect(queue.contents()).toEqual(bodies);
  });

  it("keeps the others in order when the caller takes some for good", async () => {
    const queue = memoryQueue(bodies, mode);
    const walk = new QueueWalk(queue.channel, "q", bodies.length);
    for (let message = await walk.next(); message !== false; message = await walk.next()) {
      // b and d are "replayed": taken for good (acked).
      if (["b", "d"].includes(message.content.toString())) walk.take(message);
      else await walk.putBack(message);
    }
    await walk.finish();
    expect(queue.contents()).toEqual(["a", "c", "e"]);
    expect(queue.unacked()).toBe(0);
  });
});

describe("QueueWalk", () => {
  it("ends only once the queue counts every message given back", async () => {
    const queue = memoryQueue(bodies, "to-tail", 30);
    const walk = new QueueWalk(queue.channel, "q", bodies.length);
    const first = await walk.next();
    if (first === false) throw new Error("empty");
    await walk.putBack(first);
    await walk.finish();
    // A walk that returned at once would leave the queue empty here, its
    // nacks still on their way.
    expect(queue.contents()).toEqual(bodies);
  });

  it("never reads past the messages the queue held when it started", async () => {
    const queue = memoryQueue(bodies, "to-tail");
    const walk = new QueueWalk(queue.channel, "q", 2);
    const seen: string[] = [];
    for (let message = await walk.next(); message !== false; message = await walk.next()) {
      seen.push(message.content.toString());
      await walk.putBack(message);
    }
    expect(seen).toEqual(["a", "b"]);
  });

  it("ends at once on an empty queue", async () => {
    const queue = memoryQueue([], "in-place");
    const walk = new QueueWalk(queue.channel, "q", 0);
    expect(await walk.next()).toBe(false);
    await walk.finish();
    expect(queue.gets()).toBe(0);
  });
});
