import { connect, loadTopology, RetryLaterError } from "../src/index.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";
const warren = await connect({ url, topology: await loadTopology("topology/orders.yaml") });

/** A circuit breaker in front of the warehouse API (any library will do). */
const warehouseBreaker = { isOpen: false };

await warren.consume("orders.fulfil", async (order: { orderId: string }, ctx) => {
  if (warehouseBreaker.isOpen) {
    // Waits in the shortest declared tier of at least 2 minutes (or the longest).
    throw new RetryLaterError("warehouse circuit open", { delay: "2m" });
  }
  ctx.logger.info({ orderId: order.orderId }, "reserving stock");
});
