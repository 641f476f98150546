import { pino } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import { connect, defineMessages, loadTopology } from "../src/index.ts";

const messages = defineMessages({
  "order.created": z.object({ orderId: z.string() }),
});
const warren = await connect({
  url: ["amqp://user:pass@rabbit-1", "amqp://user:pass@rabbit-2"],
  topology: await loadTopology("topology/orders.yaml"),
  publishExchange: "orders",
  messages,
  serviceName: "checkout",
  logger: pino(), // optional
  registry: new Registry(), // optional
});

const { publish } = warren; // bound
await publish("order.created", { orderId: "o-1" }); // resolves on confirm
// @ts-expect-error orderId must be a string; at run time: WARREN_PUBLISH_INVALID_PAYLOAD
await publish("order.created", { orderId: 1 });
await warren.close(); // waits for in-flight publishes
