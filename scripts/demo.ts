/**
 * `npm run demo`: warren's main job as a small orders service, end to end.
 *
 * 1. finds or starts RabbitMQ and PostgreSQL as the tests do (RABBITMQ_URL /
 *    DATABASE_URL, else Docker or throwaway local servers; --url and
 *    --database-url name existing ones) and stops what it started;
 * 2. applies examples/orders/topology.yaml to a fresh vhost and creates the
 *    service's tables in a fresh schema;
 * 3. starts the API (examples/orders/api.ts, with the outbox relay) and
 *    --workers worker processes (examples/orders/worker.ts);
 * 4. POSTs --orders orders: some flaky (they fail, then succeed from a retry
 *    tier), some poison (they end in orders.fulfil.dlq); mid-run it re-sends
 *    already published messages (duplicates) and SIGKILLs a worker, then
 *    restarts it;
 * 5. waits until every order is accounted for from the database and the
 *    queues, prints a summary, and exits 0 only when none is lost and none
 *    was processed twice.
 *
 * Flags: --orders N (300), --workers N (2), --url, --database-url, --keep
 * (leave everything running and print its URLs; Ctrl-C stops it).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import pg from "pg";
import { pino } from "pino";
import { migrate, tables } from "../examples/orders/database.ts";
import {
  applyTopology,
  compileTopology,
  connect,
  loadTopology,
  maskUrl,
  type Warren,
} from "../src/index.ts";
import { type Broker, findOrStartBroker } from "../src/testing/broker.ts";
import { managementRequest, managementUrlFor } from "../src/testing/management.ts";
import { findOrStartPostgres, type Postgres } from "../src/testing/postgres.ts";
import { account, deadLetteredOrders, effectCounts } from "./demo/accounting.ts";
import { sendDuplicates } from "./demo/duplicates.ts";
import { type Accepted, postOrders } from "./demo/load.ts";
import { type DemoProcess, startProcess } from "./demo/processes.ts";
import { Progress, type ProgressState } from "./demo/progress.ts";
import { consumedByOutcome, formatMs, percentile } from "./demo/stats.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "300" },
    workers: { type: "string", default: "2" },
    url: { type: "string" },
    "database-url": { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const orderCount = Number(values.orders);
const workerCount = Number(values.workers);
if (!Number.isSafeInteger(orderCount) || orderCount < 10 || orderCount > 100_000) {
  console.error("--orders must be a whole number from 10 to 100000");
  process.exit(1);
}
if (!Number.isSafeInteger(workerCount) || workerCount < 1 || workerCount > 16) {
  console.error("--workers must be a whole number from 1 to 16");
  process.exit(1);
}

const progress = new Progress();
const say = (text: string) => progress.event(text);
const id = randomBytes(3).toString("hex");
const vhost = `warren-demo-${id}`;
const schema = `warren_demo_${id}`;
const t = tables(schema);

let broker: Broker | undefined;
let postgres: Postgres | undefined;
let pool: pg.Pool | undefined;
let client: Warren | undefined;
let managementUrl = "";
const children: DemoProcess[] = [];

const debug = (text: string) => {
  if (process.env.DEMO_DEBUG) process.stderr.write(`[demo] ${text}\n`);
};

async function cleanup(): Promise<void> {
  debug("stopping children");
  await Promise.allSettled(children.map((child) => child.kill("SIGTERM")));
  debug("closing client");
  await client?.close();
  debug("dropping schema");
  if (pool !== undefined) {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await pool.end();
  }
  if (managementUrl !== "") {
    await managementRequest(managementUrl, `/api/vhosts/${encodeURIComponent(vhost)}`, {
      method: "DELETE",
    }).catch(() => undefined);
  }
  debug("stopping servers");
  await Promise.allSettled([broker?.stop(), postgres?.stop()]);
  debug("cleaned up");
}

process.once("SIGINT", () => {
  progress.done();
  console.log("\nSIGINT: stopping the API, the workers and what the demo started");
  void cleanup().finally(() => process.exit(130));
});

/** Sums the workers' consume outcomes; a killed worker keeps its last scrape. */
const lastScrape = new Map<string, Record<string, number>>();
async function scrapeWorkers(): Promise<Record<string, number>> {
  await Promise.all(
    children
      .filter(
        (child) =>
          child.ready.metricsUrl !== undefined &&
          child.child.exitCode === null &&
          child.child.signalCode === null,
      )
      .map(async (child) => {
        const response = await fetch(child.ready.metricsUrl as string).catch(() => undefined);
        if (response?.ok)
          lastScrape.set(
            `${child.name}#${child.child.pid}`,
            consumedByOutcome(await response.text()),
          );
      }),
  );
  const totals: Record<string, number> = {};
  for (const outcomes of lastScrape.values()) {
    for (const [outcome, n] of Object.entries(outcomes))
      totals[outcome] = (totals[outcome] ?? 0) + n;
  }
  return totals;
}

async function queueDepth(queue: string): Promise<number> {
  const response = await managementRequest(
    managementUrl,
    `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
  ).catch(() => undefined);
  if (!response?.ok) return 0;
  return ((await response.json()) as { messages?: number }).messages ?? 0;
}

async function snapshot(accepted: number): Promise<ProgressState> {
  const db = pool as pg.Pool;
  const [done, outcomes, pending, dlqs] = await Promise.all([
    effectCounts(db, schema),
    scrapeWorkers(),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t.outbox} WHERE status = 'pending'`),
    Promise.all(["orders.fulfil.dlq", "email.send.dlq", "invoices.dlq"].map(queueDepth)),
  ]);
  return {
    target: orderCount,
    accepted,
    fulfilled: done.fulfilment,
    emailed: done.email,
    invoiced: done.invoice,
    deadLettered: dlqs.reduce((a, b) => a + b, 0),
    retried: outcomes.retried ?? 0,
    duplicates: outcomes.duplicate ?? 0,
    outboxPending: pending.rows[0]?.n ?? 0,
  };
}

async function main(): Promise<number> {
  console.log(
    `warren demo: an orders service that answers 202 and accounts for every order (${orderCount} orders)\n`,
  );
  // 1. Servers.
  const [brokerFound, postgresFound] = await Promise.all([
    values.url === undefined ? findOrStartBroker() : undefined,
    values["database-url"] === undefined ? findOrStartPostgres() : undefined,
  ]);
  broker = brokerFound;
  postgres = postgresFound;
  const amqpUrl = values.url ?? (broker as Broker).url;
  managementUrl =
    values.url === undefined ? (broker as Broker).managementUrl : managementUrlFor(values.url);
  const databaseUrl = values["database-url"] ?? (postgres as Postgres).url;
  say(`broker: ${broker === undefined ? "--url" : broker.source} ${maskUrl(amqpUrl)}`);
  say(
    `postgres: ${postgres === undefined ? "--database-url" : postgres.source} ${maskUrl(databaseUrl)}`,
  );

  // 2. Topology in a fresh vhost, tables in a fresh schema.
  const user = decodeURIComponent(new URL(amqpUrl).username || "guest");
  await managementRequest(managementUrl, `/api/vhosts/${encodeURIComponent(vhost)}`, {
    method: "PUT",
  });
  await managementRequest(
    managementUrl,
    `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
    {
      method: "PUT",
      body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }),
      headers: { "content-type": "application/json" },
    },
  );
  const vhostUrl = new URL(amqpUrl);
  vhostUrl.pathname = `/${encodeURIComponent(vhost)}`;
  const topology = compileTopology(await loadTopology(`${root}examples/orders/topology.yaml`));
  const applied = await applyTopology(topology, { url: amqpUrl, managementUrl, vhost });
  say(
    `topology applied to vhost "${vhost}": ${applied.plan.steps.length} objects (examples/orders/topology.yaml)`,
  );
  pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool.on("error", () => undefined);
  await migrate(pool, schema);
  say(`tables created in schema "${schema}" (orders, effects, outbox, idempotency)`);

  // 3. The service: the API (with the outbox relay) and the workers.
  const env = {
    ...process.env,
    RABBITMQ_URL: vhostUrl.href,
    DATABASE_URL: databaseUrl,
    DEMO_SCHEMA: schema,
  };
  const startWorker = (n: number) =>
    startProcess(`worker-${n}`, `${root}examples/orders/worker.ts`, {
      ...env,
      WORKER_NAME: `worker-${n}`,
    });
  const [api, ...workers] = await Promise.all([
    startProcess("api", `${root}examples/orders/api.ts`, env),
    ...Array.from({ length: workerCount }, (_, i) => startWorker(i + 1)),
  ]);
  children.push(api as DemoProcess, ...workers);
  const apiUrl = (api as DemoProcess).ready.url as string;
  say(
    `API on ${apiUrl} (POST /orders, GET /orders/:id, /metrics); ${workerCount} worker processes consuming`,
  );

  // 4. Load, with duplicates and a crash staged part way.
  client = await connect({
    url: vhostUrl.href,
    logger: pino({ level: "silent" }),
    serviceName: "demo-duplicator",
  });
  let accepted = 0;
  let killed = false;
  let duplicated = 0;
  const ticker = setInterval(
    () => {
      void snapshot(accepted).then(
        (state) => progress.update(state),
        () => undefined,
      );
    },
    process.stdout.isTTY ? 250 : 1_000,
  );
  const orders: Accepted[] = await postOrders(apiUrl, orderCount, 8, async (_order, count) => {
    accepted = count;
    if (!killed && count >= Math.floor(orderCount * 0.4)) {
      killed = true;
      const victim = workers[0] as DemoProcess;
      say(
        `SIGKILL ${victim.name} (pid ${victim.child.pid}) mid-run; its unacked messages go back to the queues`,
      );
      void victim.kill("SIGKILL").then(async () => {
        const restarted = await startWorker(1);
        children.push(restarted);
        say(`${restarted.name} restarted (pid ${restarted.child.pid})`);
      });
    }
    if (duplicated === 0 && count >= Math.floor(orderCount * 0.6)) {
      duplicated = -1;
      duplicated = await sendDuplicates(
        pool as pg.Pool,
        t.outbox,
        client as Warren,
        Math.max(3, Math.floor(orderCount / 20)),
      );
      say(`re-sent ${duplicated} already-published messages with their messageIds (duplicates)`);
    }
  });
  say(`all ${orders.length} orders accepted (202); waiting for the workers`);

  // 5. Wait until every order is accounted for, then account precisely.
  const ids = orders.map((order) => order.orderId);
  const expectedDead = orders.filter((order) => order.simulate === "poison").length;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await snapshot(accepted);
    progress.update(state);
    const settled =
      state.outboxPending === 0 &&
      state.fulfilled + expectedDead >= orders.length &&
      state.emailed >= orders.length &&
      state.invoiced >= orders.length &&
      state.deadLettered >= expectedDead;
    if (settled || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  clearInterval(ticker);
  await new Promise((resolve) => setTimeout(resolve, 500)); // late duplicates settle
  const final = await snapshot(accepted);
  progress.update(final, true);
  progress.done();
  const target = { url: vhostUrl.href, managementUrl, vhost };
  const result = await account(pool, schema, ids, await deadLetteredOrders(target));
  const responseMs = orders.map((order) => order.responseMs);

  const ok =
    result.missing.length === 0 &&
    result.twice.length === 0 &&
    result.processed.length + result.deadLettered.length === orders.length;
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(22)} ${value}`);
  console.log("\nSummary");
  row(
    "accepted",
    `${orders.length} orders (202 Accepted), ${orders.length * 3} messages through the outbox`,
  );
  row(
    "processed",
    `${result.processed.length} orders (fulfilment, email and invoice each done once)`,
  );
  row(
    "dead-lettered",
    `${result.deadLettered.length} orders (poison: fulfilment in orders.fulfil.dlq)`,
  );
  row("retried", `${final.retried} attempts sent to a retry tier`);
  row(
    "duplicates suppressed",
    `${final.duplicates} (${duplicated} re-sent copies, plus redeliveries after the SIGKILL)`,
  );
  row("lost / done twice", `${result.missing.length} / ${result.twice.length}`);
  row(
    "API response time",
    `p50 ${formatMs(percentile(responseMs, 50))}, p99 ${formatMs(percentile(responseMs, 99))}`,
  );
  row(
    "order completion",
    `p50 ${formatMs(percentile(result.completionMs, 50))}, p99 ${formatMs(percentile(result.completionMs, 99))} (commit to last step done)`,
  );
  console.log("\nDead letters (warren dlq list orders.fulfil --limit 3):");
  const listing = await promisify(execFile)(
    process.execPath,
    [
      `${root}src/cli/run.ts`,
      "dlq",
      "list",
      "orders.fulfil",
      "--url",
      vhostUrl.href,
      "--management-url",
      managementUrl,
      "--limit",
      "3",
    ],
    { env: process.env },
  ).then(
    (out) => out.stdout,
    (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}`,
  );
  for (const line of listing.trimEnd().split("\n")) console.log(`  ${line}`);
  if (ok) {
    console.log(
      `\nOK: all ${orders.length} orders accounted for: none lost, none processed twice.`,
    );
  } else {
    console.log(
      `\nFAILED: ${result.missing.length} order steps missing, ${result.twice.length} done twice.`,
    );
    for (const step of [...result.missing, ...result.twice].slice(0, 10)) console.log(`  ${step}`);
    for (const child of children)
      if (child.stderrTail() !== "")
        console.log(`--- ${child.name} stderr ---\n${child.stderrTail()}`);
  }
  if (values.keep) {
    console.log(`\n--keep: still running. API ${apiUrl}  metrics ${apiUrl}/metrics`);
    console.log(
      `management UI ${maskUrl(managementUrl)}/#/queues (vhost ${vhost})  database ${maskUrl(databaseUrl)} schema ${schema}`,
    );
    console.log("Ctrl-C stops everything.");
    await new Promise(() => undefined);
  }
  return ok ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  progress.done();
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
}
await cleanup();
process.exit(code);
