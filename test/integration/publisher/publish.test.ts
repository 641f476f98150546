import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, type Warren } from "../../../src/client.ts";
import { defineMessages } from "../../../src/publisher/messages.ts";
import { retainedHeapBytes } from "../../support/memory.ts";
import { createVhost, logger, randomName, rejection, type TestVhost } from "./support.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("publisher against a real broker", () => {
  let vhost: TestVhost;
  let warren: Warren;
  let queue: string;
  let registry: Registry;

  beforeEach(async () => {
    vhost = await createVhost();
    queue = randomName("q");
    await vhost.channel.assertQueue(queue, { durable: true });
    await vhost.channel.assertExchange("events", "topic", { durable: true });
    await vhost.channel.bindQueue(queue, "events", "order.*");
    registry = new Registry();
    warren = await connect({
      url: vhost.url,
      publishExchange: "events",
      serviceName: randomName("pub-test"),
      logger,
      registry,
    });
  });

  afterEach(async () => {
    await warren.close();
    await vhost.close();
  });

  it("resolves 20,000 concurrent publishes on confirm, leaves exactly 20,000 messages, and keeps memory bounded", async () => {
    const { publish } = warren; // bound
    const heapBefore = retainedHeapBytes();
    let peakHeap = heapBefore;
    const sampler = setInterval(() => {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }, 20);
    const results = await Promise.allSettled(
      Array.from({ length: 20_000 }, (_, i) => publish("order.created", { orderId: `o-${i}` })),
    );
    clearInterval(sampler);
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const { messageCount } = await vhost.channel.checkQueue(queue);
    expect(messageCount).toBe(20_000);
    // 20,000 pending publishes with ~40-byte bodies: far below 150 MB of heap.
    expect(peakHeap - heapBefore).toBeLessThan(150 * 1024 * 1024);
    expect(warren.pending).toEqual({ inFlight: 0, queued: 0 });
    const text = await registry.metrics();
    expect(text).toMatch(
      /warren_messages_published_total\{exchange="events",outcome="confirmed"\} 20000/,
    );
  });

  it("keeps memory flat when a producer publishes faster than the broker confirms", async () => {
    // 50 loops of awaited publishes: the window and the awaits bound memory.
    // Retained heap is sampled (after a full GC) every 4,000 publishes; what
    // a leak of one message each would add is 20,000 x ~600 B = 12 MB.
    const before = retainedHeapBytes();
    const samples: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 20_000) {
          await warren.publish("order.created", { orderId: `o-${next++}`, pad: "x".repeat(512) });
          if (next % 4000 === 0) samples.push(retainedHeapBytes() - before);
        }
      }),
    );
    expect(samples.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...samples)).toBeLessThan(8 * 1024 * 1024);
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(20_000);
  });

  it("sends JSON with the properties and headers every warren message carries", async () => {
    await warren.publish(
      "order.created",
      { orderId: "o-1" },
      {
        correlationId: "c-1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        headers: { tenant: "t-1" },
      },
    );
    await warren.publish("order.paid", { orderId: "o-2" }, { messageId: "m-2", type: "Paid" });
    const first = await vhost.channel.get(queue, { noAck: true });
    const second = await vhost.channel.get(queue, { noAck: true });
    if (first === false || second === false) throw new Error("messages missing");
    expect(JSON.parse(first.content.toString())).toEqual({ orderId: "o-1" });
    expect(first.properties).toMatchObject({
      contentType: "application/json",
      deliveryMode: 2,
      correlationId: "c-1",
      headers: {
        tenant: "t-1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      },
    });
    // No `warren-attempt` on a first publish (absent means attempt 1), and no
    // `type` unless given.
    expect(first.properties.headers).not.toHaveProperty("warren-attempt");
    expect(first.properties.type).toBeUndefined();
    expect(first.properties.messageId).toMatch(UUID_V7);
    expect(Math.abs(first.properties.timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect(second.properties).toMatchObject({ messageId: "m-2", type: "Paid" });
  });

  it("rejects unroutable, nacked, oversized and invalid publishes each with its own code, and keeps publishing", async () => {
    const full = randomName("full");
    await vhost.channel.assertQueue(full, {
      durable: true,
      arguments: { "x-max-length": 1, "x-overflow": "reject-publish" },
    });
    const messages = defineMessages({ "order.created": z.object({ orderId: z.string() }) });
    const typed = warren.publisher(messages);

    const unroutable = await rejection(warren.publish("nobody.listens", { a: 1 }));
    expect(unroutable).toMatchObject({ code: "WARREN_PUBLISH_UNROUTABLE", inDoubt: false });

    await warren.publish(full, { n: 1 }, { exchange: "" });
    const nacked = await rejection(warren.publish(full, { n: 2 }, { exchange: "" }));
    expect(nacked).toMatchObject({ code: "WARREN_PUBLISH_NACKED", inDoubt: false });

    const tooLarge = await rejection(
      warren.publish("order.created", { blob: "x".repeat(1_100_000) }),
    );
    expect(tooLarge).toMatchObject({ code: "WARREN_PUBLISH_TOO_LARGE", inDoubt: false });

    // @ts-expect-error orderId must be a string: the registry types the payload.
    const invalid = await rejection(typed.publish("order.created", { orderId: 42 }));
    expect(invalid).toMatchObject({ code: "WARREN_PUBLISH_INVALID_PAYLOAD", inDoubt: false });
    expect(invalid.message).toContain("orderId");

    const unencodable = await rejection(
      warren.publish("order.created", {}, { headers: { bad: Symbol("no wire form") } }),
    );
    expect(unencodable).toMatchObject({ code: "WARREN_PUBLISH_INVALID_PAYLOAD", inDoubt: false });

    // Nothing else was affected: the channel survives and publishes go on.
    await typed.publish("order.created", { orderId: "o-ok" });
    await warren.publish("order.created", { orderId: "o-ok-2" });
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(2);
    expect((await vhost.channel.checkQueue(full)).messageCount).toBe(1);
  });

  it("matches each return to its own publish when routable and unroutable ones interleave", async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        warren.publish(i % 3 === 0 ? "nobody.listens" : "order.created", { i }),
      ),
    );
    outcomes.forEach((outcome, i) => {
      if (i % 3 === 0) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason.code).toBe("WARREN_PUBLISH_UNROUTABLE");
      } else {
        expect(outcome.status).toBe("fulfilled");
      }
    });
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(133);
  });

  it("sends pre-built envelopes with the same confirms", async () => {
    await warren.send({
      exchange: "",
      routingKey: queue,
      content: Buffer.from('{"retry":true}'),
      properties: { messageId: "copy-1", headers: { "warren-attempt": 2 } },
    });
    const error = await rejection(
      warren.send({
        exchange: "",
        routingKey: randomName("none"),
        content: Buffer.from("{}"),
        properties: {},
      }),
    );
    expect(error.code).toBe("WARREN_PUBLISH_UNROUTABLE");
    const message = await vhost.channel.get(queue, { noAck: true });
    if (message === false) throw new Error("the copy is missing");
    expect(message.properties).toMatchObject({
      messageId: "copy-1",
      headers: { "warren-attempt": 2 },
    });
  });

  it("waits for in-flight publishes on close, is idempotent, and refuses publishes after", async () => {
    const pending = Array.from({ length: 500 }, (_, i) => warren.publish("order.created", { i }));
    const closing = warren.close();
    await Promise.all([closing, warren.close()]);
    await expect(Promise.all(pending)).resolves.toBeDefined();
    const late = await rejection(warren.publish("order.created", {}));
    expect(late.code).toBe("WARREN_PUBLISH_CLOSED");
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(500);
  });
});
