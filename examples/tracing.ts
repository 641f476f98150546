import { connect, loadTopology } from "../src/index.ts";

// Spans go to the global tracer provider (registered by your OpenTelemetry
// SDK setup); pass tracing: { tracerProvider } to use another one.
const warren = await connect({
  url: process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672",
  topology: await loadTopology("topology/orders.yaml"),
  publishExchange: "orders",
  tracing: true,
});
await warren.publish("order.created", { orderId: "o-1" }, { correlationId: "req-7" });
await warren.close();
