/**
 * A consumer process for the idempotency end-to-end tests, run with
 * `node worker.ts` (Node strips the types). It reads its settings from the
 * WORKER_CONFIG environment variable (JSON, see {@link WorkerConfig}),
 * consumes the `work` queue through a PostgreSQL guard, and reports on stdout
 * as JSON lines: `ready`, `start` (handler entered), `outcome` (what the
 * guard answered). The test kills it where it wants a crash.
 *
 * Every handler call records a row in `<table>_runs` (autocommitted, so a
 * killed run still leaves its trace) and one side-effect row in
 * `<table>_effects`: through the pool with the plain guard, inside the guard's
 * transaction with the transactional one.
 */
import pg from "pg";
import { pino } from "pino";
import { ManagedConnection } from "../../../src/connection/connection.ts";
import { startConsumer } from "../../../src/consumer/consume.ts";
import { resolveIdempotencyGuard } from "../../../src/consumer/idempotency.ts";
import { createPostgresIdempotencyStore } from "../../../src/idempotency/postgres-store.ts";
import { createTransactionalIdempotencyGuard } from "../../../src/idempotency/transactional.ts";
import type { IdempotencyGuard, TransactionScope } from "../../../src/idempotency/types.ts";
import { createMetrics } from "../../../src/observability/metrics.ts";
import { Publisher } from "../../../src/publisher/publisher.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { sleep } from "../../support/wait.ts";

export interface WorkerConfig {
  name: string;
  url: string;
  databaseUrl: string;
  topology: unknown;
  table: string;
  guard: "postgres" | "transactional";
  leaseMs: number;
  retentionMs?: number;
  handlerDelayMs?: number;
  /** Extra delay of the first handler call only, in milliseconds (a stalled holder). */
  firstHandlerDelayMs?: number;
  concurrency?: number;
  prefetch?: number;
  /**
   * `hang`: the first handler call never returns (the test SIGKILLs us);
   * `exit-after-commit`: SIGKILL ourselves once the guard committed, before the ack.
   */
  crash?: "hang" | "exit-after-commit";
}

const config = JSON.parse(process.env.WORKER_CONFIG ?? "{}") as WorkerConfig;
const report = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ worker: config.name, ...event })}\n`);

const logger = pino({ level: process.env.WARREN_TEST_LOG_LEVEL ?? "silent" });
const pool = new pg.Pool({
  connectionString: config.databaseUrl,
  max: 2 + (config.concurrency ?? 1),
});
const topology = compileTopology(resolveTopology(config.topology));
const policy = topology.retryPolicies.work;
if (policy === undefined) throw new Error("worker: topology has no `work` queue");

const store = createPostgresIdempotencyStore({ pool, table: config.table });
const timing = {
  leaseMs: config.leaseMs,
  ...(config.retentionMs === undefined ? {} : { retentionMs: config.retentionMs }),
};
const timeoutMs = 0;
const baseGuard: IdempotencyGuard<unknown> =
  config.guard === "transactional"
    ? resolveIdempotencyGuard(
        { guard: createTransactionalIdempotencyGuard({ store, ...timing }, { policy }) },
        { policy, timeoutMs },
      )
    : resolveIdempotencyGuard({ store, ...timing }, { policy, timeoutMs });

let hung = false;
let first = true;
const guard: IdempotencyGuard<unknown> = {
  async run(key, work) {
    let outcome: Awaited<ReturnType<typeof baseGuard.run>>;
    try {
      outcome = await baseGuard.run(key, work);
    } catch (error) {
      report({ event: "error", key, code: (error as { code?: string }).code ?? String(error) });
      throw error;
    }
    report({ event: "outcome", key, status: outcome.status });
    if (config.crash === "exit-after-commit" && outcome.status === "completed") {
      process.kill(process.pid, "SIGKILL");
      await sleep(60_000);
    }
    return outcome;
  },
};

const connection = (role: "publisher" | "consumer") =>
  new ManagedConnection({
    urls: [config.url],
    role,
    serviceName: `warren-idempotency-${config.name}`,
    heartbeatSeconds: 10,
    initialConnectDeadlineMs: 10_000,
    connectTimeoutMs: 5_000,
    backoff: { initialDelayMs: 50, maxDelayMs: 500, multiplier: 2 },
    logger,
  });
const consumerConnection = connection("consumer");
const publisherConnection = connection("publisher");
await Promise.all([consumerConnection.open(), publisherConnection.open()]);
const metrics = createMetrics();
const publisher = new Publisher({ connection: publisherConnection, logger, metrics });

await startConsumer(
  { connection: consumerConnection, publisher, topology, logger, metrics },
  "work",
  async (message: { id?: string }, context) => {
    const key = context.messageId ?? "";
    await pool.query(`INSERT INTO "${config.table}_runs" (key, worker) VALUES ($1, $2)`, [
      key,
      config.name,
    ]);
    report({ event: "start", key });
    if (config.crash === "hang" && !hung) {
      hung = true;
      await sleep(10 * 60_000);
    }
    if (first && config.firstHandlerDelayMs !== undefined) await sleep(config.firstHandlerDelayMs);
    first = false;
    if (config.handlerDelayMs !== undefined) await sleep(config.handlerDelayMs);
    const db = (context.scope as TransactionScope<pg.PoolClient> | undefined)?.client ?? pool;
    await db.query(`INSERT INTO "${config.table}_effects" (key, worker) VALUES ($1, $2)`, [
      key,
      config.name,
    ]);
    void message;
  },
  {
    idempotency: { guard },
    concurrency: config.concurrency ?? 1,
    prefetch: config.prefetch ?? 1,
    timeoutMs,
  },
);
report({ event: "ready" });
