/**
 * Delayed publish on a real broker: messages wait in the exchange's wait
 * queue for the declared delay, then arrive on the work queue with their own
 * routing key; undeclared delays, malformed delays and routing keys nothing
 * is bound for are refused before anything is sent.
 */
import type { ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { ErrorCode } from "../../../src/errors.ts";
import { delayTopology } from "./delay-topology.ts";
import { clientOnTopology, logger, rejection, type TestVhost } from "./support.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe("delayed publish", () => {
  let vhost: TestVhost;
  let warren: Warren;
  const topology = delayTopology();

  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ vhost, warren, close } = await clientOnTopology(topology, "events"));
  });

  afterAll(() => close?.());

  it("delivers 50 messages published with delay 1s after about 1s, with their routing key", async () => {
    const count = 50;
    const arrivals: { message: ConsumeMessage; at: number }[] = [];
    const done = Promise.withResolvers<void>();
    await vhost.channel.consume("work", (message) => {
      if (message === null) return;
      arrivals.push({ message, at: Date.now() });
      vhost.channel.ack(message);
      if (arrivals.length === count) done.resolve();
    });
    const sentAt = new Map<string, number>();
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        sentAt.set(`o-${i}`, Date.now());
        return warren.publish("order.created", { orderId: `o-${i}` }, { delay: "1s" });
      }),
    );
    expect((await vhost.channel.checkQueue("events.delay.1s")).messageCount).toBeGreaterThan(0);
    await done.promise;
    const lateness = arrivals
      .map(({ message, at }) => {
        const { orderId } = JSON.parse(message.content.toString()) as { orderId: string };
        expect(message.fields.routingKey).toBe("order.created");
        expect(message.fields.exchange).toBe("events");
        return at - sentAt.get(orderId)! - 1000;
      })
      .sort((a, b) => a - b);
    // Never early (the TTL starts when the wait queue takes the message).
    expect(lateness[0]).toBeGreaterThanOrEqual(-5);
    const p50 = percentile(lateness, 50);
    const p99 = percentile(lateness, 99);
    console.log(
      `delay 1s x ${count}: lateness p50 ${p50} ms, p99 ${p99} ms, max ${lateness.at(-1)} ms`,
    );
    // Generous: the machine is shared; the figures are in docs/publishing.md.
    expect(p99).toBeLessThan(5_000);
  });

  it("refuses a delay the exchange does not declare, listing the declared ones", async () => {
    const error = await rejection(warren.publish("order.created", { n: 1 }, { delay: "10m" }));
    expect(error.code).toBe(ErrorCode.WARREN_PUBLISH_DELAY_UNDECLARED);
    expect(error.message).toContain("declared: 1s, 5s, 1h");
    const other = await rejection(
      warren.publish("order.created", { n: 1 }, { delay: "1s", exchange: "" }),
    );
    expect(other.code).toBe(ErrorCode.WARREN_PUBLISH_DELAY_UNDECLARED);
    expect(other.message).toContain("declares no delays");
  });

  it("refuses a malformed delay", async () => {
    const error = await rejection(warren.publish("order.created", { n: 1 }, { delay: "soon" }));
    expect(error.code).toBe(ErrorCode.WARREN_PUBLISH_INVALID_OPTIONS);
  });

  it("refuses a delayed message no queue is bound for, before it waits", async () => {
    const before = (await vhost.channel.checkQueue("events.delay.1h")).messageCount;
    const error = await rejection(warren.publish("invoice.paid", { n: 1 }, { delay: "1h" }));
    expect(error.code).toBe(ErrorCode.WARREN_PUBLISH_UNROUTABLE);
    expect((await vhost.channel.checkQueue("events.delay.1h")).messageCount).toBe(before);
    // mandatory: false opts out, as for an immediate publish.
    await warren.publish("invoice.paid", { n: 1 }, { delay: "1h", mandatory: false });
    expect((await vhost.channel.checkQueue("events.delay.1h")).messageCount).toBe(before + 1);
  });

  it("refuses a delay when the client has no topology", async () => {
    const bare = await connect({ url: vhost.url, publishExchange: "events", logger });
    try {
      const error = await rejection(bare.publish("order.created", { n: 1 }, { delay: "1s" }));
      expect(error.code).toBe(ErrorCode.WARREN_PUBLISH_DELAY_UNDECLARED);
      expect(error.message).toContain("needs the topology");
    } finally {
      await bare.close();
    }
  });
});
