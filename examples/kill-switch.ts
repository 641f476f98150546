import { connect, loadTopology } from "../src/index.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";
const warren = await connect({ url, topology: await loadTopology("topology/orders.yaml") });

const consumer = await warren.consume(
  "orders.fulfil",
  async (order: { orderId: string }) => {
    const response = await fetch("http://127.0.0.1:8080/reserve", {
      method: "POST",
      body: JSON.stringify(order),
    });
    if (!response.ok) throw new Error(`warehouse answered ${response.status}`);
  },
  {
    // Stop taking messages when half of at least 20 fail within a minute;
    // probe with 3 messages after 30 s.
    killSwitch: { threshold: 0.5, minMessages: 20, windowMs: 60_000, cooldownMs: 30_000 },
  },
);
consumer.on("tripped", (change) => console.warn("warehouse down, consuming paused", change));
consumer.on("resumed", (change) => console.info(`consuming again (by ${change.by})`));
