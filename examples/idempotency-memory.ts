import { connect, createMemoryIdempotencyStore, loadTopology } from "../src/index.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";
const warren = await connect({ url, topology: await loadTopology("topology/orders.yaml") });

await warren.consume(
  "orders.fulfil",
  async (order, ctx) => {
    ctx.logger.info({ order }, "fulfilling once"); // a redelivery of a done message never gets here
  },
  { idempotency: { store: createMemoryIdempotencyStore() } },
);
