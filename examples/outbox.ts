import type { Pool } from "pg";
import { z } from "zod";
import { createPostgresOutbox, defineMessages } from "../src/index.ts";

const messages = defineMessages({
  "order.created": z.object({ orderId: z.string(), total: z.number() }),
});

/** POST /orders: the order and its message commit together, or neither does. */
export async function placeOrder(pool: Pool, order: { id: string; total: number }) {
  const outbox = createPostgresOutbox({ pool, messages, exchange: "orders" });
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO orders (id, total) VALUES ($1, $2)", [order.id, order.total]);
    await outbox.publish(client, "order.created", { orderId: order.id, total: order.total });
    await client.query("COMMIT"); // a relay (outbox.startRelay(warren)) publishes it after this
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}
