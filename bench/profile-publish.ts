/**
 * A profiling driver, not a benchmark: warren publishing `n` messages one
 * awaited at a time, then `n` more from 500 concurrent loops, against the
 * broker at `url`, printing wall time and client CPU per message. Run it
 * under the profiler to see where the client's time goes:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-publish.ts <amqp url> [n]
 */
import { connect as amqpConnect } from "amqplib";
import { connect } from "../src/client.ts";

const url = process.argv[2] as string;
const n = Number(process.argv[3] ?? 300);
const admin = await amqpConnect(url);
const ch = await admin.createChannel();
const queue = `prof-${process.pid}`;
await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
const warren = await connect({ url, serviceName: "prof" });
const body = { id: 1, at: 1, data: "x".repeat(984) };
let cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i++) await warren.publish(queue, body);
const t1 = performance.now();
const cpu1 = process.cpuUsage(cpu0);
console.log(
  `awaited ${n}: ${((t1 - t0) / n).toFixed(2)} ms/msg wall, ${((cpu1.user + cpu1.system) / n).toFixed(0)} µs/msg client CPU`,
);
cpu0 = process.cpuUsage();
const t2 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 500 }, async () => {
    while (next < n * 10) {
      next++;
      await warren.publish(queue, body);
    }
  }),
);
const cpu2 = process.cpuUsage(cpu0);
console.log(
  `pipelined ${n * 10}: ${(((performance.now() - t2) * 1000) / (n * 10)).toFixed(0)} µs/msg wall, ${((cpu2.user + cpu2.system) / (n * 10)).toFixed(0)} µs/msg client CPU`,
);
await warren.close();
await ch.deleteQueue(queue);
await admin.close();
