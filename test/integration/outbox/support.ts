/**
 * Helpers for the outbox tests: a pool on the run's PostgreSQL, a migrated
 * outbox table per test (dropped after), a vhost with an `orders` topic
 * exchange bound to one queue, and a collector that counts the deliveries
 * of that queue by messageId.
 */
import { randomBytes } from "node:crypto";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import pg from "pg";
import { pino } from "pino";
import { migrateOutbox } from "../../../src/outbox/migrate.ts";
import { databaseUrl } from "../../support/postgres.ts";
import { createVhost, type TestVhost } from "../publisher/support.ts";

export const logger = pino({ level: process.env.WARREN_TEST_LOG_LEVEL ?? "silent" });

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function newPool(max = 8, url = databaseUrl()): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", () => {});
  return pool;
}

/** A migrated outbox table and an `<table>_orders` table; `drop()` removes both. */
export async function withOutboxTable(pool: pg.Pool) {
  const table = `outbox_${randomBytes(5).toString("hex")}`;
  await migrateOutbox(pool, { table });
  await pool.query(`CREATE TABLE "${table}_orders" (id text PRIMARY KEY, total int NOT NULL)`);
  return {
    table,
    orders: `"${table}_orders"`,
    drop: () => pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_orders"`),
  };
}

/** Runs `work` in a transaction on a client of `pool`, committing when it resolves. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Deliveries of one queue, counted by messageId, with their bodies in arrival order. */
export interface Collector {
  counts: Map<string, number>;
  bodies: unknown[];
  total(): number;
  /** Resolves once `n` distinct ids arrived; rejects after `timeoutMs`. */
  waitForDistinct(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function collect(url: string, queue: string): Promise<Collector> {
  const model: ChannelModel = await amqp.connect(url);
  const channel: Channel = await model.createChannel();
  const counts = new Map<string, number>();
  const bodies: unknown[] = [];
  let total = 0;
  await channel.consume(
    queue,
    (message) => {
      if (message === null) return;
      total++;
      const id = String(message.properties.messageId);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      bodies.push(JSON.parse(message.content.toString()));
    },
    { noAck: true },
  );
  return {
    counts,
    bodies,
    total: () => total,
    async waitForDistinct(n, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (counts.size < n) {
        if (Date.now() > deadline) {
          throw new Error(`only ${counts.size} of ${n} messages arrived within ${timeoutMs} ms`);
        }
        await sleep(50);
      }
    },
    async close() {
      await model.close().catch(() => {});
    },
  };
}

/** A vhost with topic exchange `orders` bound (`order.#`) to durable queue `orders.all`. */
export async function ordersVhost(): Promise<TestVhost & { queue: string }> {
  const vhost = await createVhost();
  await vhost.channel.assertExchange("orders", "topic", { durable: true });
  await vhost.channel.assertQueue("orders.all", { durable: true });
  await vhost.channel.bindQueue("orders.all", "orders", "order.#");
  return { ...vhost, queue: "orders.all" };
}
