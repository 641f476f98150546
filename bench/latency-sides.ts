/**
 * Which side adds latency, the publisher or the consumer? Publishes at 1,000
 * msg/s to a durable classic queue and consumes at prefetch 1 in one
 * process, with raw amqplib or warren on each side (four pairings, two
 * rounds), and prints each pairing's p50, p90 and p99 from the publish call
 * to the handler start. Every connection has TCP_NODELAY; the raw consumer
 * acks after its handler, as warren does. Used in docs/performance.md.
 *
 *   node bench/latency-sides.ts
 */
import amqp from "amqplib";
import { connect } from "../src/client.ts";
import { findOrStartBroker } from "../src/testing/broker.ts";
import { topologyFor } from "./systems.ts";

const N = 3000;
const broker = await findOrStartBroker();
const pct = (a: number[], p: number) =>
  a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]!;
async function run(label: string, pubWarren: boolean, subWarren: boolean) {
  const queue = `lat-${label.replace(/\W+/g, "-")}-${Date.now()}`;
  const admin = await amqp.connect(broker.url, { noDelay: true });
  const ch = await admin.createChannel();
  await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
  const warren = await connect({
    url: broker.url,
    topology: topologyFor(queue),
    serviceName: "lat",
  });
  const pubModel = await amqp.connect(broker.url, { noDelay: true });
  const pub = await pubModel.createConfirmChannel();
  const subModel = await amqp.connect(broker.url, { noDelay: true });
  const sub = await subModel.createChannel();
  await sub.prefetch(1);
  const sentAt = new Float64Array(N);
  const lat: number[] = [];
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const seen = (i: number) => {
    lat.push(performance.now() - sentAt[i]!);
    if (lat.length === N) resolve();
  };
  if (subWarren) await warren.consume<{ i: number }>(queue, async (m) => seen(m.i));
  else
    await sub.consume(queue, (m) => {
      if (!m) return;
      const i = (JSON.parse(m.content.toString()) as { i: number }).i;
      seen(i);
      sub.ack(m);
    });
  const publish = (i: number) => {
    if (pubWarren) void warren.publish(queue, { i, data: "x".repeat(64) });
    else
      pub.sendToQueue(queue, Buffer.from(JSON.stringify({ i, data: "x".repeat(64) })), {
        persistent: true,
      });
  };
  const started = performance.now();
  let sent = 0;
  while (sent < N) {
    const due = Math.min(N, Math.floor(((performance.now() - started) * 1000) / 1000) + 1);
    while (sent < due) {
      sentAt[sent] = performance.now();
      publish(sent++);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  lat.sort((a, b) => a - b);
  console.log(
    `${label}: p50 ${pct(lat, 50).toFixed(2)} ms, p90 ${pct(lat, 90).toFixed(2)}, p99 ${pct(lat, 99).toFixed(2)}`,
  );
  await warren.close();
  await ch.deleteQueue(queue);
  await Promise.all([admin.close(), pubModel.close(), subModel.close()]);
}
for (let round = 0; round < 2; round++) {
  await run("raw pub + raw sub (ack after handler)", false, false);
  await run("warren pub + raw sub", true, false);
  await run("raw pub + warren sub", false, true);
  await run("warren pub + warren sub", true, true);
}
await broker.stop?.();
process.exit(0);
