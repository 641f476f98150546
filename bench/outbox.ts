/**
 * What the transactional outbox costs against publishing right after the
 * commit, in the same run: 4 writers each commit transactions of one order
 * row plus its message, either
 *
 * - **direct**: `COMMIT`, then `await warren.publish(...)` (the naive
 *   handler, which loses the message if the process dies in between), or
 * - **outbox**: `outbox.publish(client, ...)` before `COMMIT`; one relay in
 *   the same process publishes the rows with confirms.
 *
 * Commit-to-confirm runs from `COMMIT` resolving to the broker's confirm
 * (the publish resolving, or the relay's confirm of that row). Throughput
 * is messages over the time from the first transaction to the last confirm.
 * A third figure times one relay draining a backlog of rows committed while
 * it was stopped: the relay's own ceiling. Sides alternate per round.
 *
 *   node bench/outbox.ts [--rounds 3] [--messages 2000] [--no-write]
 *
 * Broker and database: RABBITMQ_URL / DATABASE_URL, else found or started
 * as by the tests. Writes its table into docs/performance.md between the
 * `outbox-bench` markers (bench/run.ts keeps that block when it rewrites the
 * page).
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { connect as amqpConnect } from "amqplib";
import pg from "pg";
import { pino } from "pino";
import { Registry } from "prom-client";
import { connect } from "../src/client.ts";
import { migrateOutbox } from "../src/outbox/migrate.ts";
import { createPostgresOutbox } from "../src/outbox/outbox.ts";
import { findOrStartBroker } from "../src/testing/broker.ts";
import { findOrStartPostgres } from "../src/testing/postgres.ts";
import { median } from "./scenario.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    messages: { type: "string", default: "2000" },
    "no-write": { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const messages = Number(values.messages);
const WRITERS = 4;

function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ??
    Number.NaN
  );
}

interface Run {
  rate: number;
  p50: number;
  p99: number;
}

const [broker, postgres] = await Promise.all([findOrStartBroker(), findOrStartPostgres()]);
const pool = new pg.Pool({ connectionString: postgres.url, max: WRITERS + 4 });
const logger = pino({ level: "silent" });
const suffix = randomBytes(4).toString("hex");
const exchange = `bench-outbox-${suffix}`;
const queue = `bench-outbox-${suffix}`;
const table = `bench_outbox_${suffix}`;
const setup = await amqpConnect(broker.url);
const channel = await setup.createChannel();
await channel.assertExchange(exchange, "direct", { durable: true });
await channel.assertQueue(queue, { durable: true });
await channel.bindQueue(queue, exchange, "order.created");
await migrateOutbox(pool, { table });
await pool.query(`CREATE TABLE ${table}_orders (id text PRIMARY KEY)`);
const warren = await connect({ url: broker.url, logger, serviceName: "bench-outbox" });
const outbox = createPostgresOutbox({ pool, table, exchange });

/** Runs `perTransaction` in `messages` transactions spread over the writers. */
async function write(
  perTransaction: (client: pg.PoolClient, orderId: string) => Promise<() => Promise<void>>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      const client = await pool.connect();
      try {
        while (next < messages) {
          const orderId = `o-${suffix}-${next++}-${Math.random()}`;
          await client.query("BEGIN");
          await client.query(`INSERT INTO ${table}_orders VALUES ($1)`, [orderId]);
          const afterCommit = await perTransaction(client, orderId);
          await client.query("COMMIT");
          await afterCommit();
        }
      } finally {
        client.release();
      }
    }),
  );
}

async function direct(): Promise<Run> {
  const lags: number[] = [];
  const started = performance.now();
  await write(async (_client, orderId) => async () => {
    const committed = performance.now();
    await warren.publish("order.created", { orderId }, { exchange });
    lags.push(performance.now() - committed);
  });
  const seconds = (performance.now() - started) / 1000;
  lags.sort((a, b) => a - b);
  return { rate: messages / seconds, p50: percentile(lags, 50), p99: percentile(lags, 99) };
}

async function viaOutbox(): Promise<Run> {
  const committedAt = new Map<string, number>();
  const lags: number[] = [];
  let last = 0;
  const relay = await outbox.startRelay(warren, { retentionMs: 0, registry: new Registry() });
  const allSent = new Promise<void>((resolve) => {
    relay.on("sent", (rows) => {
      for (const row of rows) {
        const committed = committedAt.get(row.messageId);
        if (committed !== undefined) lags.push(row.confirmedAt - committed);
        last = Math.max(last, row.confirmedAt);
      }
      if (lags.length >= messages) resolve();
    });
  });
  const started = performance.now();
  await write(async (client, orderId) => {
    const { messageId } = await outbox.publish(client, "order.created", { orderId });
    return async () => {
      committedAt.set(messageId, performance.now());
    };
  });
  await allSent;
  await relay.stop();
  lags.sort((a, b) => a - b);
  return {
    rate: messages / ((last - started) / 1000),
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
  };
}

async function drain(): Promise<number> {
  await write(async (client, orderId) => {
    await outbox.publish(client, "order.created", { orderId });
    return async () => {};
  });
  let sent = 0;
  const relay = await outbox.startRelay(warren, { retentionMs: 0, registry: new Registry() });
  const started = performance.now();
  await new Promise<void>((resolve) =>
    relay.on("sent", (rows) => {
      sent += rows.length;
      if (sent >= messages) resolve();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await relay.stop();
  return messages / seconds;
}

const results = { direct: [] as Run[], outbox: [] as Run[], drain: [] as number[] };
try {
  await direct(); // warm-up, unmeasured
  await viaOutbox();
  await channel.purgeQueue(queue);
  for (let round = 0; round < rounds; round++) {
    const order =
      round % 2 === 0 ? (["direct", "outbox"] as const) : (["outbox", "direct"] as const);
    for (const side of order)
      results[side].push(side === "direct" ? await direct() : await viaOutbox());
    results.drain.push(await drain());
    await channel.purgeQueue(queue);
    console.log(
      `round ${round + 1}/${rounds}: direct ${results.direct.at(-1)?.rate.toFixed(0)} msg/s, outbox ${results.outbox.at(-1)?.rate.toFixed(0)} msg/s, drain ${results.drain.at(-1)?.toFixed(0)} msg/s`,
    );
  }
} finally {
  await warren.close();
  await channel.deleteQueue(queue).catch(() => undefined);
  await channel.deleteExchange(exchange).catch(() => undefined);
  await setup.close();
  await pool.query(`DROP TABLE IF EXISTS ${table}, ${table}_orders`);
  await pool.end();
  await Promise.all([broker.stop(), postgres.stop()]);
}

const med = (runs: Run[], key: keyof Run) => median(runs.map((run) => run[key]));
const ms = (value: number) => value.toFixed(2);
const markdown = [
  `| ${WRITERS} writers, ${messages} transactions of 1 order + 1 message | msg/s (median) | commit → confirm p50 (ms) | p99 (ms) | runs |`,
  "|---|---:|---:|---:|---:|",
  `| direct \`publish\` after COMMIT | ${med(results.direct, "rate").toFixed(0)} | ${ms(med(results.direct, "p50"))} | ${ms(med(results.direct, "p99"))} | ${rounds} |`,
  `| outbox row in the transaction, 1 relay | ${med(results.outbox, "rate").toFixed(0)} | ${ms(med(results.outbox, "p50"))} | ${ms(med(results.outbox, "p99"))} | ${rounds} |`,
  `| 1 relay draining a backlog of ${messages} rows | ${median(results.drain).toFixed(0)} | — | — | ${rounds} |`,
].join("\n");
console.log(`\n${markdown}`);

if (!values["no-write"]) {
  const path = new URL("../docs/performance.md", import.meta.url);
  const page = await readFile(path, "utf8");
  const block = `<!-- outbox-bench:start -->
## Transactional outbox

Measured by \`node bench/outbox.ts\` (${rounds} rounds, sides alternating; Node
${process.version}, ${availableParallelism()} CPUs, broker and PostgreSQL on the
same machine). The outbox adds the relay's wake-up (LISTEN/NOTIFY), a claim
and a mark to each message's path, and takes the publish off the request:
the request ends at COMMIT.

${markdown}
<!-- outbox-bench:end -->`;
  const marked = /<!-- outbox-bench:start -->[\s\S]*<!-- outbox-bench:end -->/;
  await writeFile(
    path,
    marked.test(page) ? page.replace(marked, block) : `${page.trimEnd()}\n\n${block}\n`,
  );
  console.log("wrote the outbox table to docs/performance.md");
}
