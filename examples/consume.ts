import { pino } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import {
  connect,
  createMemoryIdempotencyStore,
  loadTopology,
  NonRetryableError,
  serveHealth,
} from "../src/index.ts";

const Order = z.object({ orderId: z.string(), total: z.number().nonnegative() });
const registry = new Registry();

const warren = await connect({
  url: process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672",
  topology: await loadTopology("topology/orders.yaml"),
  serviceName: "fulfilment",
  logger: pino(),
  registry,
});

const consumer = await warren.consume(
  "orders.fulfil",
  async (order, ctx) => {
    ctx.logger.info({ orderId: order.orderId, attempt: ctx.attempt }, "fulfilling");
    if (order.total === 0) throw new NonRetryableError("nothing to fulfil"); // straight to the DLQ
    await fetch("http://127.0.0.1:8080/warehouse", {
      method: "POST",
      body: JSON.stringify(order),
      signal: ctx.signal, // aborted when timeoutMs passes
    });
    // Resolve: ack. Throw: retry tier 1s, 10s, 1m, then orders.fulfil.dlq.
  },
  {
    schema: Order, // invalid payloads go to the DLQ without calling the handler
    timeoutMs: 10_000,
    idempotency: { store: createMemoryIdempotencyStore() }, // a redelivery never runs twice
  },
);

// /healthz, /readyz (connected and consuming) and /metrics for Prometheus.
const health = await serveHealth({ registry, readiness: () => warren.readiness(), port: 9464 });

// The library installs no signal handlers: the service decides.
process.once("SIGTERM", async () => {
  await consumer.close(); // stop taking messages, drain in-flight handlers
  await warren.close();
  await health.close();
});
