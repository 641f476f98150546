/**
 * The broker goes away for 10 s under a running relay: a throwaway RabbitMQ
 * node of this test's own (never the shared one) is stopped and started
 * again with its data. Rows committed meanwhile wait in the table, and all
 * of them are delivered once it is back.
 */
import amqp from "amqplib";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../../src/client.ts";
import { createPostgresOutbox } from "../../src/outbox/outbox.ts";
import {
  inTransaction,
  logger,
  newPool,
  sleep,
  withOutboxTable,
} from "../integration/outbox/support.ts";
import { useThrowawayNode } from "../integration/publisher/throwaway-node.ts";

describe("outbox relay across a broker outage", () => {
  const pool = newPool(4);
  const broker = useThrowawayNode();
  afterAll(() => pool.end());

  it("keeps rows pending while the broker is down and delivers them all after", async () => {
    const { node } = broker;
    const { table, drop } = await withOutboxTable(pool);
    const model = await amqp.connect(node.url);
    const channel = await model.createChannel();
    await channel.assertExchange("orders", "topic", { durable: true });
    await channel.assertQueue("orders.all", { durable: true });
    await channel.bindQueue("orders.all", "orders", "order.#");
    await model.close();

    const outbox = createPostgresOutbox({ pool, table, exchange: "orders" });
    const warren = await connect({
      url: node.url,
      logger,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    broker.warren = warren;
    const relay = await outbox.startRelay(warren, {
      pollIntervalMs: 200,
      registry: new Registry(),
    });
    const ids = new Set<string>();
    const write = async (from: number, to: number) =>
      inTransaction(pool, async (db) => {
        for (let i = from; i < to; i++) {
          ids.add((await outbox.publish(db, "order.created", { orderId: `o${i}` })).messageId);
        }
      });
    try {
      await write(0, 100);
      const deadline = Date.now() + 15_000;
      while ((await relay.refreshStats()).pending > 0 && Date.now() < deadline) await sleep(100);

      await node.stop();
      const stoppedAt = Date.now();
      await write(100, 300);
      await sleep(10_000 - (Date.now() - stoppedAt));
      const during = await relay.refreshStats();
      expect(during.pending).toBe(200);
      expect(during.failed).toBe(0);
      expect(during.oldestPendingSeconds).toBeGreaterThan(5);

      await node.start();
      const back = Date.now() + 30_000;
      while ((await relay.refreshStats()).pending > 0 && Date.now() < back) await sleep(200);
      expect((await relay.refreshStats()).pending).toBe(0);

      const reader = await amqp.connect(node.url);
      const counts = new Map<string, number>();
      try {
        const ch = await reader.createChannel();
        for (;;) {
          const message = await ch.get("orders.all", { noAck: true });
          if (message === false) break;
          const id = String(message.properties.messageId);
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      } finally {
        await reader.close();
      }
      expect(counts.size).toBe(300);
      expect([...ids].every((id) => counts.has(id))).toBe(true);
      // A publish in flight when the broker stopped may arrive twice (the
      // relay could not know it was confirmed), never more.
      expect([...counts.values()].every((n) => n <= 2)).toBe(true);
    } finally {
      await relay.stop();
      await drop();
    }
  }, 120_000);
});
