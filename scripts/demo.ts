/**
 * `npm run demo`: warren's main job, end to end, on a broker it finds or
 * starts (RABBITMQ_URL, else Docker, else a throwaway local rabbitmq-server).
 *
 * 1. applies topology/orders.yaml (exchanges, quorum queues, retry tiers, DLQs);
 * 2. starts a consumer on `orders.fulfil` with the health endpoint;
 * 3. publishes orders, each `await`ed until the broker confirms it: most
 *    succeed, some hit a flaky payment gateway once and come back from the
 *    1 s retry tier, one can never succeed and goes to `orders.fulfil.dlq`
 *    with its error; an unroutable publish is refused;
 * 4. lists the dead letter, prints the metrics, and shuts down gracefully.
 *
 * Options: --orders N (default 20). The demo installs SIGINT/SIGTERM
 * handlers (the library never does) so Ctrl-C drains in-flight handlers.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { Registry } from "prom-client";
import { z } from "zod";
import {
  applyTopology,
  compileTopology,
  connect,
  defineMessages,
  inspectDeadLetters,
  loadTopology,
  maskUrl,
  NonRetryableError,
  PublishError,
  serveHealth,
} from "../src/index.ts";
import { findOrStartBroker } from "../src/testing/broker.ts";

const { values } = parseArgs({ options: { orders: { type: "string", default: "20" } } });
const orderCount = Number(values.orders);
if (!Number.isSafeInteger(orderCount) || orderCount < 3) {
  console.error("--orders must be a whole number of at least 3");
  process.exit(1);
}

const say = (text: string) => console.log(text);
const started = Date.now();
const at = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(8);

say("warren demo: order fulfilment with retries and a dead-letter queue\n");
const broker = await findOrStartBroker();
say(`broker: ${broker.source === "env" ? "RABBITMQ_URL" : broker.source} (${maskUrl(broker.url)})`);

const Order = z.object({
  orderId: z.string(),
  sku: z.string(),
  quantity: z.number().int().positive(),
});
type Order = z.infer<typeof Order>;
const messages = defineMessages({ "order.created": Order });

const registry = new Registry();
const logger = pino({ level: process.env.WARREN_LOG_LEVEL ?? "error" });
let warren: Awaited<ReturnType<typeof connect<typeof messages.schemas>>> | undefined;
let health: Awaited<ReturnType<typeof serveHealth>> | undefined;

async function shutdown(code: number): Promise<never> {
  await warren?.close(); // cancels consumers, drains handlers, waits for confirms
  await health?.close();
  await broker.stop();
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`\n${signal}: draining in-flight handlers, then closing`);
    void shutdown(130);
  });
}

try {
  // 1. Topology as code.
  const topology = await loadTopology("topology/orders.yaml");
  const compiled = compileTopology(topology);
  const applied = await applyTopology(compiled, {
    url: broker.url,
    managementUrl: broker.managementUrl,
  });
  say(
    `topology: ${applied.created.length} objects created, ${applied.unchanged.length} unchanged in vhost "${applied.vhost}"`,
  );

  // 2. A consumer, with the health endpoint next to it.
  warren = await connect({
    url: broker.url,
    topology,
    publishExchange: "orders",
    messages,
    serviceName: "warren-demo",
    logger,
    registry,
  });
  const client = warren;
  health = await serveHealth({ registry, readiness: () => client.readiness(), port: 0 });

  const poison = "o-3";
  const isFlaky = (orderId: string) => Number(orderId.slice(2)) % 5 === 0;
  const fulfilled = new Set<string>();
  const consumer = await client.consume(
    "orders.fulfil",
    async (order: Order, ctx) => {
      if (order.orderId === poison) {
        throw new NonRetryableError(`SKU ${order.sku} is discontinued`);
      }
      if (isFlaky(order.orderId) && ctx.attempt === 1) {
        say(`${at()}  ${order.orderId}: payment gateway timed out (attempt 1), will retry`);
        throw new Error("payment gateway timed out");
      }
      fulfilled.add(order.orderId);
      if (ctx.attempt > 1) say(`${at()}  ${order.orderId}: fulfilled on attempt ${ctx.attempt}`);
    },
    { schema: Order, timeoutMs: 5_000 },
  );
  say(`consumer: orders.fulfil (prefetch 1); health at ${health.url}/readyz\n`);

  // 3. Publish: every await resolves only once the broker has the message.
  const orders = Array.from({ length: orderCount }, (_, i) => ({
    orderId: `o-${i + 1}`,
    sku: i + 1 === 3 ? "discontinued-lamp" : `sku-${(i % 4) + 1}`,
    quantity: 1 + (i % 3),
  }));
  const publishStarted = performance.now();
  await Promise.all(orders.map((order) => client.publish("order.created", order)));
  const publishMs = performance.now() - publishStarted;
  say(
    `${at()}  published ${orders.length} orders, all confirmed by the broker in ${publishMs.toFixed(1)} ms`,
  );

  try {
    await client.publish("order.created", orders[0]!, { exchange: "billing" });
  } catch (error) {
    if (!(error instanceof PublishError)) throw error;
    say(`${at()}  a publish nobody would receive was refused: ${error.code}`);
  }

  const expected = orders.length - 1;
  const deadline = Date.now() + 30_000;
  while (fulfilled.size < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  say(`${at()}  ${fulfilled.size} of ${expected} fulfillable orders fulfilled`);

  // 4. What operators see.
  const listing = await inspectDeadLetters({
    url: broker.url,
    managementUrl: broker.managementUrl,
    queue: "orders.fulfil",
    limit: 5,
  });
  say(
    `\n${listing.total} dead letter(s) in ${listing.deadLetterQueue} (warren dlq list orders.fulfil):`,
  );
  for (const letter of listing.messages) {
    say(
      `  ${letter.messageId ?? "?"}  reason=${letter.reason}  ${letter.errorType}: ${letter.errorMessage}`,
    );
  }

  const metrics = await (await fetch(`${health.url}/metrics`)).text();
  say("\nmetrics (GET /metrics):");
  for (const line of metrics.split("\n")) {
    if (/^warren_(messages_consumed_total|messages_published_total)\{/.test(line)) {
      say(`  ${line}`);
    }
  }

  await consumer.close();
  const ok = fulfilled.size === expected && listing.total >= 1;
  say(ok ? "\ndemo finished: every order fulfilled or dead-lettered, none lost" : "\ndemo FAILED");
  await shutdown(ok ? 0 : 1);
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
