/**
 * The orders API (node:http): `POST /orders` writes the order and its three
 * messages to PostgreSQL in one transaction and answers 202 at once; the
 * outbox relay running in this process publishes the messages with confirms
 * after the commit. `GET /orders/:id` reports the order's progress. Also
 * `/metrics`, `/healthz` and `/readyz`.
 *
 * Environment: RABBITMQ_URL (with the demo's vhost), DATABASE_URL,
 * DEMO_SCHEMA, PORT (0 picks a free one). Prints one JSON line
 * `{"event":"ready","url":...}` when it listens.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { pino } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import { connect, createPostgresOutbox, ErrorCode, OutboxError } from "../../src/index.ts";
import { checkSchema, STEPS, tables } from "./database.ts";
import { exchangeOf, messages, type Order } from "./messages.ts";

const OrderRequest = z.object({
  customer: z.string().min(1),
  items: z
    .array(
      z.object({
        sku: z.string(),
        quantity: z.number().int().positive(),
        price: z.number().int().nonnegative(),
      }),
    )
    .min(1),
  simulate: z.enum(["flaky", "poison"]).optional(),
});

const env = process.env;
const schema = checkSchema(env.DEMO_SCHEMA ?? "warren_demo");
const t = tables(schema);
const logger = pino({ level: env.WARREN_LOG_LEVEL ?? "warn" }, pino.destination(2));
const registry = new Registry();
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
pool.on("error", (error) => logger.warn({ err: error }, "idle database client failed"));
const warren = await connect({
  url: env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672",
  serviceName: "orders-api",
  logger,
  registry,
});
const outbox = createPostgresOutbox({ pool, table: t.outbox, messages, exchange: "orders" });
const relay = await outbox.startRelay(warren, { pollIntervalMs: 250, statsIntervalMs: 1_000 });

/** The order handler: one transaction for the order and its messages. */
async function placeOrder(request: z.infer<typeof OrderRequest>): Promise<string> {
  const order: Order = {
    orderId: randomUUID(),
    customer: request.customer,
    total: request.items.reduce((sum, item) => sum + item.quantity * item.price, 0),
    ...(request.simulate === undefined ? {} : { simulate: request.simulate }),
  };
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(
      `INSERT INTO ${t.orders} (id, customer, total, simulate) VALUES ($1, $2, $3, $4)`,
      [order.orderId, order.customer, order.total, order.simulate ?? null],
    );
    for (const routingKey of ["order.created", "order.confirmation", "invoice"] as const) {
      await outbox.publish(client, routingKey, order, {
        exchange: exchangeOf[routingKey],
        correlationId: order.orderId,
      });
    }
    await client.query("COMMIT");
    return order.orderId;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function orderStatus(id: string) {
  const order = await pool.query(`SELECT id FROM ${t.orders} WHERE id = $1`, [id]);
  if (order.rowCount === 0) return undefined;
  const done = await pool.query<{ step: string }>(
    `SELECT DISTINCT step FROM ${t.effects} WHERE order_id = $1`,
    [id],
  );
  const finished = new Set(done.rows.map((row) => row.step));
  const steps = Object.fromEntries(
    STEPS.map((step) => [step, finished.has(step) ? "done" : "pending"]),
  );
  return {
    orderId: id,
    status: finished.size === STEPS.length ? "completed" : "processing",
    steps,
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response
    .writeHead(status, { "content-type": "application/json" })
    .end(`${JSON.stringify(body)}\n`);
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of request) {
    text += chunk;
    if (text.length > 64_000) throw new SyntaxError("body too large");
  }
  return JSON.parse(text);
}

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (request.method === "POST" && path === "/orders") {
    let body: unknown;
    try {
      body = await readJson(request);
    } catch {
      return send(response, 400, { error: "body must be JSON" });
    }
    const parsed = OrderRequest.safeParse(body);
    if (!parsed.success) return send(response, 400, { error: parsed.error.issues });
    try {
      const orderId = await placeOrder(parsed.data);
      return send(response, 202, { orderId, status: "processing" });
    } catch (error) {
      logger.error({ err: error }, "order not placed");
      const unavailable =
        error instanceof OutboxError && error.code === ErrorCode.WARREN_OUTBOX_DATABASE_UNAVAILABLE;
      return send(response, unavailable ? 503 : 500, { error: (error as Error).message });
    }
  }
  const match = /^\/orders\/([\w-]+)$/.exec(path);
  if (request.method === "GET" && match?.[1] !== undefined) {
    const status = await orderStatus(match[1]);
    return status === undefined
      ? send(response, 404, { error: "no such order" })
      : send(response, 200, status);
  }
  if (request.method === "GET" && path === "/metrics") {
    response.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
    return;
  }
  if (request.method === "GET" && path === "/healthz") return send(response, 200, { status: "ok" });
  if (request.method === "GET" && path === "/readyz") {
    const readiness = warren.readiness();
    return send(response, readiness.ready ? 200 : 503, readiness);
  }
  send(response, 404, { error: "try POST /orders, GET /orders/:id, /metrics, /healthz, /readyz" });
}

const server = createServer((request, response) => {
  route(request, response).catch((error: unknown) => {
    logger.error({ err: error }, "request failed");
    if (!response.headersSent) send(response, 500, { error: "internal error" });
  });
});
server.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => server.listen(Number(env.PORT ?? 0), "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;
process.stdout.write(`${JSON.stringify({ event: "ready", url: `http://127.0.0.1:${port}` })}\n`);

// The service owns its process: on SIGTERM stop taking requests, let the
// relay finish its batch, then close the broker client and the pool.
process.once("SIGTERM", async () => {
  server.close();
  server.closeAllConnections();
  await relay.stop();
  await warren.close();
  await pool.end();
  process.exit(0);
});
