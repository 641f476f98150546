import type { Pool } from "pg";
import type { PostgresOutbox } from "../src/index.ts";

/** POST /orders: the order and its message commit together, or neither does. */
export async function placeOrder(
  pool: Pool,
  outbox: PostgresOutbox,
  order: { id: string; total: number },
) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO orders (id, total) VALUES ($1, $2)", [order.id, order.total]);
    await outbox.publish(client, "order.created", { orderId: order.id, total: order.total });
    await client.query("COMMIT"); // answer 202 now: a relay publishes it, with confirms
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}
