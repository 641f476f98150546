/**
 * Where one message's time goes, client side against broker side, for
 * warren and raw amqplib (issue #10: warren waited longer than its CPU per
 * message explains). Timestamps come from the sockets only (a frame written,
 * a socket becoming readable), so no library is patched:
 *
 * - `awaited`: awaited publishes (1 KiB JSON, persistent, classic durable
 *   queue, no consumer) from raw amqplib with a bare message, with a bare
 *   message and `mandatory`, with warren's message, and warren, one publish
 *   of each in turn in one process, so the broker's state is the same for
 *   all four. Per publish:
 *   call → socket write, socket write → confirm read, confirm read → the
 *   awaiting code resumed.
 * - `consume`: a queue of N messages drained at prefetch 1 with an async
 *   no-op handler, raw amqplib (acks after the handler, TCP_NODELAY) and
 *   warren taking turns. Per delivery: delivery read → ack write (the
 *   client) and ack write → next delivery read (the broker).
 *
 *   node bench/waits.ts awaited [publishes per system, 2000]
 *   node bench/waits.ts consume [messages per run, 4000] [runs per system, 3]
 *
 * Broker: RABBITMQ_URL (default amqp://guest:guest@localhost:5672). Figures
 * are medians (and means) in µs; the first fifth of each run is warm-up.
 */
import net from "node:net";
import { connect as amqpConnect, type ChannelModel } from "amqplib";
import { connect } from "../src/client.ts";
import { uuidv7 } from "../src/publisher/publish.ts";
import { payload, topologyFor } from "./systems.ts";

const url = process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672";
const now = () => performance.now();

/** The role of the sockets opened while it is set (see {@link tagged}). */
let opening: string | undefined;
const roleOf = new WeakMap<net.Socket, string>();
const writes = new Map<string, number[]>();
const reads = new Map<string, number[]>();
const push = (table: Map<string, number[]>, role: string, at: number) => {
  const list = table.get(role);
  if (list === undefined) table.set(role, [at]);
  else list.push(at);
};

// Every write that reaches the socket's handle, and every time it becomes readable.
const socket = net.Socket.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const method of ["_write", "_writev", "connect", "emit"] as const) {
  const original = socket[method] as (...args: unknown[]) => unknown;
  socket[method] = function (this: net.Socket, ...args: unknown[]) {
    if (method === "connect" && opening !== undefined) roleOf.set(this, opening);
    const role = roleOf.get(this);
    if (role !== undefined) {
      if (method === "_write" || method === "_writev") push(writes, role, now());
      else if (method === "emit" && args[0] === "readable") push(reads, role, now());
    }
    return original.apply(this, args);
  };
}

/** Runs `open` with the sockets it opens tagged `role`. */
async function tagged<T>(role: string, open: () => Promise<T>): Promise<T> {
  opening = role;
  try {
    return await open();
  } finally {
    opening = undefined;
  }
}

/** The first timestamp in `list` at or after `at`. */
function firstAfter(list: readonly number[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as number) < at) lo = mid + 1;
    else hi = mid;
  }
  return list[lo] ?? Number.NaN;
}

function summary(values: number[]): string {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  const median = finite[Math.floor(finite.length / 2)] ?? Number.NaN;
  const mean = finite.reduce((sum, v) => sum + v, 0) / finite.length;
  return `${(median * 1000).toFixed(0).padStart(6)} (${(mean * 1000).toFixed(0).padStart(5)})`;
}

async function admin<T>(body: (model: ChannelModel, queue: string) => Promise<T>): Promise<T> {
  const model = await amqpConnect(url);
  const channel = await model.createConfirmChannel();
  const queue = `bench-waits-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "classic" } });
  try {
    return await body(model, queue);
  } finally {
    await channel.deleteQueue(queue);
    await model.close();
  }
}

async function awaited(count: number): Promise<void> {
  type Side = { name: string; publish(queue: string, i: number): Promise<unknown> };
  const raw = async (name: string, properties: () => object): Promise<Side> => {
    const model = await tagged(name, () => amqpConnect(url));
    const channel = await model.createConfirmChannel();
    const publish = (queue: string, i: number) =>
      new Promise<void>((resolve, reject) =>
        channel.publish("", queue, Buffer.from(JSON.stringify(payload(i))), properties(), (e) =>
          e ? reject(e) : resolve(),
        ),
      );
    return { name, publish };
  };
  const warren = await tagged("warren", () => connect({ url, serviceName: "bench" }));
  const sides: Side[] = [
    await raw("amqplib (bare message)", () => ({
      persistent: true,
      contentType: "application/json",
    })),
    // `mandatory` alone: a classic queue answers each mandatory message with
    // one more message to the channel's process (RabbitMQ 3.x).
    await raw("amqplib (bare message, mandatory)", () => ({
      persistent: true,
      contentType: "application/json",
      mandatory: true,
    })),
    await raw("amqplib (warren's message)", () => ({
      persistent: true,
      contentType: "application/json",
      messageId: uuidv7(),
      timestamp: Math.floor(Date.now() / 1000),
      mandatory: true,
    })),
    { name: "warren", publish: (queue, i) => warren.publish(queue, payload(i)) },
  ];
  const parts = sides.map(() => ({
    out: [] as number[],
    broker: [] as number[],
    back: [] as number[],
    total: [] as number[],
  }));
  await admin(async (_model, queue) => {
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < sides.length; k++) {
        const index = (i + k) % sides.length;
        const side = sides[index] as Side;
        const called = now();
        await side.publish(queue, i);
        const resumed = now();
        if (i < count / 5) continue;
        const wrote = firstAfter(writes.get(side.name) ?? [], called);
        const confirmed = firstAfter(reads.get(side.name) ?? [], wrote);
        const part = parts[index] as (typeof parts)[number];
        part.out.push(wrote - called);
        part.broker.push(confirmed - wrote);
        part.back.push(resumed - confirmed);
        part.total.push(resumed - called);
      }
    }
  });
  await warren.close();
  console.log(`awaited publish, ${count} per side; µs, median (mean)`);
  console.log(
    "| side | call → write | write → confirm read | confirm read → resumed | call → resumed |",
  );
  console.log("|---|---:|---:|---:|---:|");
  sides.forEach((side, k) => {
    const p = parts[k] as (typeof parts)[number];
    console.log(
      `| ${side.name} | ${summary(p.out)} | ${summary(p.broker)} | ${summary(p.back)} | ${summary(p.total)} |`,
    );
  });
  process.exit(0);
}

async function drain(system: "amqplib" | "warren", count: number) {
  return admin(async (model, queue) => {
    const filler = await model.createConfirmChannel();
    for (let i = 0; i < count; i++) {
      filler.sendToQueue(queue, Buffer.from(JSON.stringify(payload(i))), { persistent: true });
    }
    await filler.waitForConfirms();
    const role = `${system}-${queue}`;
    const { promise, resolve } = Promise.withResolvers<void>();
    let handled = 0;
    const done = () => {
      if (++handled === count) resolve();
    };
    let close: () => Promise<void>;
    if (system === "warren") {
      const client = await connect({ url, topology: topologyFor(queue), serviceName: "bench" });
      await tagged(role, () =>
        client.consume(queue, async () => {
          await Promise.resolve();
          done();
        }),
      );
      close = () => client.close();
    } else {
      const consumer = await tagged(role, () => amqpConnect(url, { noDelay: true }));
      const channel = await consumer.createChannel();
      await channel.prefetch(1);
      await channel.consume(queue, async (message) => {
        if (message === null) return;
        await Promise.resolve();
        channel.ack(message);
        done();
      });
      close = () => consumer.close();
    }
    await promise;
    await close();
    // One delivery per read and one ack per write at prefetch 1.
    const read = reads.get(role) ?? [];
    const client: number[] = [];
    const broker: number[] = [];
    for (let i = Math.floor(read.length / 5); i < read.length - 1; i++) {
      const ackAt = firstAfter(writes.get(role) ?? [], read[i] as number);
      client.push(ackAt - (read[i] as number));
      broker.push(firstAfter(read, ackAt) - ackAt);
    }
    return { client, broker };
  });
}

async function consume(count: number, runs: number): Promise<void> {
  const systems = ["amqplib", "warren"] as const;
  const results = systems.map(() => ({ client: [] as number[], broker: [] as number[] }));
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < systems.length; k++) {
      const index = (run + k) % systems.length;
      const { client, broker } = await drain(systems[index] as (typeof systems)[number], count);
      results[index]?.client.push(...client);
      results[index]?.broker.push(...broker);
    }
  }
  console.log(`consume at prefetch 1, ${runs} runs of ${count} per side; µs, median (mean)`);
  console.log("| side | delivery read → ack write | ack write → next delivery read |");
  console.log("|---|---:|---:|");
  systems.forEach((system, k) => {
    const r = results[k] as (typeof results)[number];
    console.log(`| ${system} | ${summary(r.client)} | ${summary(r.broker)} |`);
  });
  process.exit(0);
}

const [mode, first, second] = process.argv.slice(2);
if (mode === "awaited") await awaited(Number(first ?? 2000));
else if (mode === "consume") await consume(Number(first ?? 4000), Number(second ?? 3));
else throw new Error("usage: node bench/waits.ts awaited [count] | consume [count] [runs]");
