import type pg from "pg";
import { z } from "zod";
import {
  connect,
  createTransactionalIdempotencyGuard,
  loadTopology,
  type TransactionScope,
} from "../src/index.ts";
import { store } from "./idempotency-postgres.ts"; // the PostgreSQL store, above

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";
// A topology file of yours that declares the queue payments.capture:
const warren = await connect({ url, topology: await loadTopology("topology/payments.yaml") });

const guard = createTransactionalIdempotencyGuard({ store });
await warren.consume(
  "payments.capture",
  async (payment, ctx) => {
    const { client } = ctx.scope as TransactionScope<pg.PoolClient>;
    await client.query("INSERT INTO ledger (payment_id, amount) VALUES ($1, $2)", [
      payment.id,
      payment.amount,
    ]);
  },
  { schema: z.object({ id: z.string(), amount: z.number() }), idempotency: { guard } },
);
