import { pino } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import { connect, defineMessages, loadTopology, PublishError } from "../src/index.ts";

// Routing keys and their payloads: publish() is type-checked against them
// and validates every payload before it is sent.
const messages = defineMessages({
  "order.created": z.object({ orderId: z.string(), total: z.number().nonnegative() }),
});

const warren = await connect({
  url: process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672",
  topology: await loadTopology("topology/orders.yaml"),
  publishExchange: "orders",
  messages,
  serviceName: "checkout",
  logger: pino(),
  registry: new Registry(),
});

try {
  // Resolves only once the broker has confirmed the message.
  await warren.publish("order.created", { orderId: "o-1", total: 42 });
} catch (error) {
  // Unroutable, nacked (queue full), blocked, timed out, too large, invalid:
  // each has its own code; `inDoubt` says whether it may have arrived anyway.
  if (error instanceof PublishError) console.error(error.code, error.inDoubt, error.message);
  throw error;
} finally {
  await warren.close();
}
