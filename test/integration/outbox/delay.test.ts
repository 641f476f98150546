/**
 * `delay` on `outbox.publish` against the run's PostgreSQL and broker: the
 * row is addressed to the exchange's declared wait exchange, so the relay's
 * publish waits there and reaches the queue after the delay with its own
 * routing key; a delay the topology does not declare (or an outbox without
 * a topology) is refused at `outbox.publish`, and nothing is inserted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { createPostgresOutbox } from "../../../src/outbox/outbox.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import {
  collect,
  inTransaction,
  logger,
  newPool,
  ordersVhost,
  withOutboxTable,
} from "./support.ts";

describe("outbox with delay", () => {
  const pool = newPool(4);
  let vhost: Awaited<ReturnType<typeof ordersVhost>>;
  let warren: Warren | undefined;
  const topology = compileTopology(
    resolveTopology({
      exchanges: { orders: { type: "topic", delays: ["1s"] } },
      queues: {
        "orders.all": {
          type: "classic",
          bindings: [{ exchange: "orders", routingKey: "order.#" }],
        },
      },
    }),
  );

  beforeAll(async () => {
    vhost = await ordersVhost();
    // The wait exchange and queue of `1s`; `orders` and `orders.all` exist already.
    for (const e of topology.exchanges.filter((x) => x.name !== "orders")) {
      await vhost.channel.assertExchange(e.name, e.type, { durable: true, arguments: e.arguments });
    }
    for (const q of topology.queues.filter((x) => x.role === "delay")) {
      await vhost.channel.assertQueue(q.name, { durable: true, arguments: q.arguments });
      await vhost.channel.bindQueue(q.name, q.name, "");
    }
    warren = await connect({ url: vhost.url, logger, serviceName: "outbox-delay-test" });
  });
  afterAll(async () => {
    await warren?.close();
    await vhost.close();
    await pool.end();
  });

  it("relays a delayed row through the wait exchange: it arrives after the delay, with its routing key", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({ pool, table, exchange: "orders", topology });
    const collector = await collect(vhost.url, vhost.queue);
    const relay = await outbox.startRelay(warren!, { pollIntervalMs: 50 });
    try {
      const row = await inTransaction(pool, (db) =>
        outbox.publish(db, "order.remind", { orderId: "o-1" }, { delay: "1s" }),
      );
      const committedAt = Date.now();
      const stored = await pool.query(`SELECT exchange, routing_key FROM "${table}"`);
      expect(stored.rows).toEqual([{ exchange: "orders.delay.1s", routing_key: "order.remind" }]);
      await collector.waitForDistinct(1, 10_000);
      const waitedMs = Date.now() - committedAt;
      expect([...collector.counts]).toEqual([[row.messageId, 1]]);
      expect(collector.bodies).toEqual([{ orderId: "o-1" }]);
      expect(waitedMs).toBeGreaterThanOrEqual(950);
      console.log(`delayed outbox row arrived ${waitedMs} ms after commit (delay 1s)`);
    } finally {
      await relay.stop();
      await collector.close();
      await drop();
    }
  });

  it("refuses an undeclared delay, and a delay without a topology, at outbox.publish", async () => {
    const { table, drop } = await withOutboxTable(pool);
    try {
      const outbox = createPostgresOutbox({ pool, table, exchange: "orders", topology });
      await expect(
        inTransaction(pool, (db) => outbox.publish(db, "order.remind", {}, { delay: "5m" })),
      ).rejects.toMatchObject({
        code: "WARREN_PUBLISH_DELAY_UNDECLARED",
        message: expect.stringContaining("declared: 1s"),
      });
      await expect(
        inTransaction(pool, (db) => outbox.publish(db, "nothing.bound", {}, { delay: "1s" })),
      ).rejects.toMatchObject({ code: "WARREN_PUBLISH_UNROUTABLE" });
      const bare = createPostgresOutbox({ pool, table, exchange: "orders" });
      await expect(
        inTransaction(pool, (db) => bare.publish(db, "order.remind", {}, { delay: "1s" })),
      ).rejects.toMatchObject({
        code: "WARREN_PUBLISH_DELAY_UNDECLARED",
        message: expect.stringContaining("createPostgresOutbox({ topology"),
      });
      const count = await pool.query(`SELECT count(*)::int AS n FROM "${table}"`);
      expect(count.rows[0].n).toBe(0);
    } finally {
      await drop();
    }
  });
});
