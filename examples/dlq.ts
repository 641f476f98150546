import { inspectDeadLetters, purgeDeadLetters, replayDeadLetters } from "../src/index.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://localhost:5672";

const { total, messages } = await inspectDeadLetters({ url, queue: "orders.fulfil", limit: 20 });
console.log(total, messages.length);
const result = await replayDeadLetters({
  url,
  queue: "orders.fulfil",
  filter: { reason: "non-retryable" },
});
console.log(result);
const { purged } = await purgeDeadLetters({ url, queue: "orders.fulfil", yes: true });
console.log(purged);
