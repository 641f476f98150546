// workers.ts: run with `warren worker ./workers.js --topology topology.yaml`
import { defineWorker, NonRetryableError } from "../src/index.ts";

interface Order {
  orderId: string;
}

export default [
  defineWorker<Order>({
    queue: "orders.fulfil",
    handler: async (order, ctx) => {
      if (order.orderId === "") throw new NonRetryableError("order without an id");
      ctx.logger.info({ orderId: order.orderId }, "fulfilling");
    },
    options: { concurrency: 4, timeoutMs: 60_000 },
  }),
  defineWorker({
    queue: "email.send",
    handler: async (_email, ctx) => {
      ctx.logger.info("sending");
    },
  }),
];
