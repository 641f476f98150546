/**
 * An orders worker, written the way the README tells users to write theirs:
 * `consume()` on the topology's queues (retry tiers and dead-letter queues
 * come from topology.yaml), the transactional idempotency guard (the step's
 * effect and the done mark commit together, so a redelivered or duplicated
 * message never repeats it), metrics and health on.
 *
 * Fulfilment reads from the topic exchange `orders`, the confirmation email
 * from the fanout `notifications`, the invoice from the direct `billing`.
 *
 * Environment: RABBITMQ_URL (with the demo's vhost), DATABASE_URL,
 * DEMO_SCHEMA, WORKER_NAME. Prints `{"event":"ready","metricsUrl":...}`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { pino } from "pino";
import { Registry } from "prom-client";
import {
  connect,
  createPostgresIdempotencyStore,
  createTransactionalIdempotencyGuard,
  loadTopology,
  type MessageContext,
  serveHealth,
  type TransactionScope,
} from "../../src/index.ts";
import { checkSchema, type Step, tables } from "./database.ts";
import { Order } from "./messages.ts";

const env = process.env;
const name = env.WORKER_NAME ?? `worker-${process.pid}`;
const t = tables(checkSchema(env.DEMO_SCHEMA ?? "warren_demo"));
const logger = pino({ level: env.WARREN_LOG_LEVEL ?? "warn" }, pino.destination(2));
const registry = new Registry();
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 8 });
pool.on("error", (error) => logger.warn({ err: error }, "idle database client failed"));

const warren = await connect({
  url: env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672",
  topology: await loadTopology(new URL("./topology.yaml", import.meta.url).pathname),
  serviceName: `orders-${name}`,
  logger,
  registry,
});
// The lease outlives the handler's deadline; a worker killed mid-handler
// holds its keys for at most this long before another worker takes them.
const guard = createTransactionalIdempotencyGuard({
  store: createPostgresIdempotencyStore({ pool, table: t.idempotency }),
  leaseMs: 3_000,
});

/** Records the step's effect in the guard's transaction: exactly once per message. */
async function record(step: Step, order: Order, ctx: MessageContext): Promise<void> {
  const { client } = ctx.scope as TransactionScope<pg.PoolClient>;
  await sleep(5 + Math.random() * 20); // the slow part: a warehouse, a mail server, a PDF
  await client.query(`INSERT INTO ${t.effects} (order_id, step, worker) VALUES ($1, $2, $3)`, [
    order.orderId,
    step,
    name,
  ]);
}

const options = { schema: Order, timeoutMs: 2_000, concurrency: 4, idempotency: { guard } };
const consumers = await Promise.all([
  warren.consume(
    "orders.fulfil",
    async (order, ctx) => {
      if (order.simulate === "poison") {
        throw new Error(`warehouse rejects order ${order.orderId}: SKU discontinued`);
      }
      if (order.simulate === "flaky" && ctx.attempt < 3) {
        throw new Error(`warehouse timed out (attempt ${ctx.attempt}); retrying`);
      }
      await record("fulfilment", order, ctx);
    },
    options,
  ),
  warren.consume("email.send", (order, ctx) => record("email", order, ctx), options),
  warren.consume(
    "invoices",
    async (order, ctx) => {
      if (order.simulate === "flaky" && ctx.attempt < 2)
        throw new Error("billing service unavailable");
      await record("invoice", order, ctx);
    },
    options,
  ),
]);

const health = await serveHealth({ registry, readiness: () => warren.readiness(), port: 0 });
process.stdout.write(
  `${JSON.stringify({ event: "ready", name, metricsUrl: `${health.url}/metrics` })}\n`,
);

process.once("SIGTERM", async () => {
  await Promise.all(consumers.map((consumer) => consumer.close())); // drain running handlers
  await warren.close();
  await health.close();
  await pool.end();
  process.exit(0);
});
