import { z } from "zod";
import { connect, createMemoryIdempotencyStore, loadTopology } from "../src/index.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";
const warren = await connect({ url, topology: await loadTopology("topology/orders.yaml") });
const store = createMemoryIdempotencyStore(); // any IdempotencyStore (below)

await warren.consume("orders.fulfil", async () => {}, {
  schema: z.object({ orderId: z.string() }),
  timeoutMs: 30_000,
  idempotency: {
    store,
    key: (order) => `fulfil:${order.orderId}`, // default: the message's messageId
    leaseMs: 60_000, // >= the handler's timeoutMs
    retentionMs: 86_400_000, // >= the queue's whole retry path
  },
});
// Or, with a guard you built (the transactional one, below): { guard, key? }.
