/**
 * What an idempotency guard costs the consumer runtime. Each scenario
 * pre-fills a durable classic queue with `messages` small persistent
 * messages (each with its own messageId), then times warren's `consume` at
 * prefetch 1 and concurrency 1, with a handler that does nothing, until all
 * are acked. The baseline is the same consumer without a guard; candidates
 * add the in-memory guard, the PostgreSQL guard, or the transactional
 * PostgreSQL guard (those need a database: run.ts finds or starts one, and
 * skips them with a note when it cannot). Prefetch 1 is the worst case for
 * the guard: nothing hides its round trips.
 *
 * Run on its own with `node bench/idempotency.ts [rounds] [name filter]`
 * (RABBITMQ_URL; DATABASE_URL for the PostgreSQL rows), or through run.ts
 * with the other comparisons.
 */
import { randomUUID } from "node:crypto";
import { connect as amqpConnect } from "amqplib";
import pg from "pg";
import { connect } from "../src/client.ts";
import { createIdempotencyGuard } from "../src/idempotency/guard.ts";
import { createMemoryIdempotencyStore } from "../src/idempotency/memory-store.ts";
import { migrateIdempotencyStore } from "../src/idempotency/migrate.ts";
import { createPostgresIdempotencyStore } from "../src/idempotency/postgres-store.ts";
import { createTransactionalIdempotencyGuard } from "../src/idempotency/transactional.ts";
import type { IdempotencyGuard } from "../src/idempotency/types.ts";
import { compileTopology } from "../src/topology/compile.ts";
import { resolveTopology } from "../src/topology/load.ts";
import {
  type BenchContext,
  type Comparison,
  median,
  rate,
  type Scenario,
  scaled,
} from "./scenario.ts";

/** Size of each run. */
export const idempotencyBenchDefaults = Object.freeze({
  /** Messages per run. */
  messages: 5_000,
});

/** A guard for one run, and what to do after it. */
interface GuardSetup {
  guard: IdempotencyGuard<unknown> | undefined;
  /** Ends the run: drops the table, and says what the database did per message. */
  cleanup(messages: number): Promise<string | undefined>;
}

type SetUp = (context: BenchContext, concurrency: number) => Promise<GuardSetup>;

const noGuard: SetUp = async (): Promise<GuardSetup> => ({
  guard: undefined,
  cleanup: async () => undefined,
});

const memoryGuard: SetUp = async (): Promise<GuardSetup> => ({
  guard: createIdempotencyGuard({ store: createMemoryIdempotencyStore() }),
  cleanup: async () => undefined,
});

/**
 * Committed transactions of the database so far, as PostgreSQL counts them
 * (`pg_stat_database.xact_commit`), read on a connection of its own that
 * then exits: a backend reports its counts when it exits, so the reading
 * connection's own commit shows up in the next reading.
 */
async function commitsSoFar(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    );
    return Number(rows[0]?.xact_commit);
  } finally {
    await client.end();
  }
}

/**
 * Counts the queries (round trips: one query, one or several statements,
 * one response) sent on the connections of `pool`; `pool.query` runs on one
 * of them too, so it is counted there.
 */
function countQueries(pool: pg.Pool): { readonly count: number } {
  const counter = { count: 0 };
  pool.on("connect", (client) => {
    const clientQuery = client.query.bind(client);
    client.query = ((...args: unknown[]) => {
      counter.count++;
      return (clientQuery as (...a: unknown[]) => unknown)(...args);
    }) as typeof client.query;
  });
  return counter;
}

function postgresGuard(transactional: boolean): SetUp {
  return async (context, concurrency) => {
    const url = context.databaseUrl;
    if (url === undefined) throw new Error("no PostgreSQL database for the guard scenarios");
    const table = `warren_bench_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    await migrateIdempotencyStore(admin, { table });
    await admin.end();
    const pool = new pg.Pool({ connectionString: url, max: 2 * concurrency });
    const queries = countQueries(pool);
    const store = createPostgresIdempotencyStore({ pool, table });
    const commitsBefore = await commitsSoFar(url);
    return {
      guard: transactional
        ? createTransactionalIdempotencyGuard({ store })
        : createIdempotencyGuard({ store }),
      cleanup: async (messages) => {
        const roundTrips = queries.count;
        // The pool's backends exit and report their commits.
        await pool.end();
        await new Promise((resolve) => setTimeout(resolve, 200));
        // Minus one: the commit of the reading before the run.
        const commits = (await commitsSoFar(url)) - commitsBefore - 1;
        const drop = new pg.Client({ connectionString: url });
        await drop.connect();
        await drop.query(`DROP TABLE IF EXISTS "${table}"`);
        await drop.end();
        return `${(roundTrips / messages).toFixed(2)} round trips and ${(commits / messages).toFixed(2)} commits per message`;
      },
    };
  };
}

function consumeScenario(label: string, setup: SetUp, concurrency = 1): Scenario {
  return {
    label: concurrency === 1 ? label : `${label}, concurrency ${concurrency}`,
    async run(context: BenchContext) {
      const messages = scaled(context, idempotencyBenchDefaults.messages);
      const queue = context.queueName();
      const topology = compileTopology(
        resolveTopology({ queues: { [queue]: { type: "classic" } } }),
      );
      const admin = await amqpConnect(context.url);
      const channel = await admin.createConfirmChannel();
      for (const object of topology.queues) {
        await channel.assertQueue(object.name, { durable: true, arguments: object.arguments });
      }
      const body = Buffer.from(JSON.stringify({ at: 1_700_000_000_000, data: "x".repeat(64) }));
      for (let i = 0; i < messages; i++) {
        channel.sendToQueue(queue, body, { persistent: true, messageId: randomUUID() });
      }
      await channel.waitForConfirms();
      const { guard, cleanup } = await setup(context, concurrency);
      const warren = await connect({ url: context.url, topology, serviceName: "bench" });
      try {
        let handled = 0;
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const started = performance.now();
        const consumer = await warren.consume(
          queue,
          async () => {
            if (++handled === messages) setImmediate(finish);
          },
          guard === undefined ? { concurrency } : { concurrency, idempotency: { guard } },
        );
        await finished;
        const seconds = (performance.now() - started) / 1000;
        await consumer.close();
        const note = await cleanup(messages);
        return note === undefined ? { messages, seconds } : { messages, seconds, note };
      } finally {
        await warren.close();
        for (const object of topology.queues) await channel.deleteQueue(object.name);
        await admin.close();
      }
    },
  };
}

export const unguardedConsume = consumeScenario("warren consume, no guard", noGuard);
export const memoryGuardedConsume = consumeScenario("warren consume, in-memory guard", memoryGuard);
export const postgresGuardedConsume = consumeScenario(
  "warren consume, PostgreSQL guard",
  postgresGuard(false),
);
export const transactionalGuardedConsume = consumeScenario(
  "warren consume, transactional PostgreSQL guard",
  postgresGuard(true),
);
const parallel = 8;
const unguardedParallel = consumeScenario("warren consume, no guard", noGuard, parallel);
const postgresGuardedParallel = consumeScenario(
  "warren consume, PostgreSQL guard",
  postgresGuard(false),
  parallel,
);
const transactionalGuardedParallel = consumeScenario(
  "warren consume, transactional PostgreSQL guard",
  postgresGuard(true),
  parallel,
);

const shape = (concurrency: number) =>
  `${idempotencyBenchDefaults.messages} small persistent messages from a durable classic queue, prefetch 1, concurrency ${concurrency}, no-op handler; msg/s`;

/**
 * Guard overhead comparisons. The in-memory guard has a target; the
 * PostgreSQL ones measure what the database round trips cost (no target).
 */
export const idempotencyComparisons: Comparison[] = [
  {
    name: "consume with in-memory idempotency guard",
    description: `${shape(1)}; against the same consumer without a guard`,
    candidate: memoryGuardedConsume,
    baseline: unguardedConsume,
    target: 0.9,
  },
  {
    name: "consume with PostgreSQL idempotency guard",
    description: `${shape(1)}; against the same consumer without a guard (measured, no target)`,
    candidate: postgresGuardedConsume,
    baseline: unguardedConsume,
    needs: "postgres",
  },
  {
    name: "consume with transactional PostgreSQL idempotency guard",
    description: `${shape(1)}; against the same consumer without a guard (measured, no target)`,
    candidate: transactionalGuardedConsume,
    baseline: unguardedConsume,
    needs: "postgres",
  },
  {
    name: `consume with PostgreSQL idempotency guard, concurrency ${parallel}`,
    description: `${shape(parallel)}; against the same consumer without a guard (measured, no target)`,
    candidate: postgresGuardedParallel,
    baseline: unguardedParallel,
    needs: "postgres",
  },
  {
    name: `consume with transactional PostgreSQL idempotency guard, concurrency ${parallel}`,
    description: `${shape(parallel)}; against the same consumer without a guard (measured, no target)`,
    candidate: transactionalGuardedParallel,
    baseline: unguardedParallel,
    needs: "postgres",
  },
];

// `node bench/idempotency.ts [rounds] [name filter]`: alternate candidate and
// baseline runs, print medians and ratios.
if (import.meta.main) {
  const url = process.env.RABBITMQ_URL ?? "amqp://guest:guest@localhost:5672";
  const rounds = Number(process.argv[2] ?? 5);
  const context: BenchContext = {
    url,
    queueName: () => `warren-bench-idempotency-${randomUUID().slice(0, 8)}`,
    scale: 1,
    databaseUrl: process.env.DATABASE_URL || undefined,
  };
  const only = process.argv[3] ?? "";
  const runnable = idempotencyComparisons.filter(
    (c) => c.name.includes(only) && (c.needs !== "postgres" || context.databaseUrl !== undefined),
  );
  for (const comparison of runnable) {
    const candidate: number[] = [];
    const baseline: number[] = [];
    const notes: string[] = [];
    await comparison.candidate.run(context); // warm-up
    for (let i = 0; i < rounds; i++) {
      // Alternate which side goes first, so neither always follows the other's cleanup.
      const runCandidate = async () => {
        const measured = await comparison.candidate.run(context);
        candidate.push(rate(measured));
        if (measured.note !== undefined) notes.push(measured.note);
      };
      if (i % 2 === 0) await runCandidate();
      baseline.push(rate(await comparison.baseline.run(context)));
      if (i % 2 === 1) await runCandidate();
    }
    const c = median(candidate);
    const b = median(baseline);
    console.log(
      `${comparison.name}: ${c.toFixed(0)} msg/s vs ${b.toFixed(0)} msg/s unguarded = ${(c / b).toFixed(3)}x (target ${comparison.target ?? "none"}); ${notes.at(-1) ?? ""}; runs ${candidate.map((v) => v.toFixed(0)).join(",")} / ${baseline.map((v) => v.toFixed(0)).join(",")}`,
    );
  }
}
