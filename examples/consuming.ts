import { z } from "zod";
import { connect, loadTopology, NonRetryableError } from "../src/index.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";
const warren = await connect({ url, topology: await loadTopology("topology/orders.yaml") });

/** Reserves stock for an order at the warehouse; honours the abort signal. */
async function reserve(order: { orderId: string }, init: { signal: AbortSignal }) {
  const response = await fetch("http://127.0.0.1:8080/reserve", {
    method: "POST",
    body: JSON.stringify(order),
    signal: init.signal,
  });
  return response.status === 404 ? "unknown-sku" : "reserved";
}

const consumer = await warren.consume(
  "orders.fulfil",
  async (order, ctx) => {
    ctx.logger.info({ orderId: order.orderId, attempt: ctx.attempt }, "fulfilling");
    const stock = await reserve(order, { signal: ctx.signal });
    if (stock === "unknown-sku") throw new NonRetryableError(`unknown SKU in ${order.orderId}`);
  },
  { schema: z.object({ orderId: z.string() }), concurrency: 4, timeoutMs: 10_000 },
);

// on shutdown (the library installs no signal handlers):
await consumer.close();
await warren.close();
