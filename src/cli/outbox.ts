/**
 * `warren outbox relay|failed|retry`: run an outbox relay as its own process,
 * and list or re-queue the rows it gave up on (docs/outbox.md). The database
 * is `--database-url` or `$DATABASE_URL`; the broker `--url` or
 * `$RABBITMQ_URL`. Exit codes: 0 ok, 1 error.
 */
import type pg from "pg";
import { pino } from "pino";
import { Registry } from "prom-client";
import { connect } from "../client.ts";
import { serveHealth } from "../observability/health.ts";
import { importPg } from "../optional-dependency.ts";
import type { FailedRow } from "../outbox/failed.ts";
import { createPostgresOutbox, type PostgresOutbox } from "../outbox/outbox.ts";
import type { RelayOptions } from "../outbox/relay-options.ts";
import {
  amqpClientFlags,
  type Command,
  type CommandContext,
  type CommandGroup,
  clientEndpoint,
  type FlagValues,
  stringFlag,
  UsageError,
} from "./command.ts";

/** Flags every outbox command takes. */
const databaseOptions = {
  "database-url": { type: "string" },
  table: { type: "string" },
} as const;

const databaseHelp = [
  "--database-url <url>        PostgreSQL URL (default: $DATABASE_URL)",
  "--table <name>              outbox table (default warren_outbox)",
];

function integerFlag(values: FlagValues, name: string, min = 1): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer of at least ${min}, got "${raw}"`);
  }
  return n;
}

/** Opens the pool and the outbox, runs `fn`, and always ends the pool. */
async function withOutbox<T>(
  context: CommandContext,
  fn: (outbox: PostgresOutbox, pool: pg.Pool) => Promise<T>,
): Promise<T> {
  const url = stringFlag(context.values, "database-url") ?? context.io.env.DATABASE_URL;
  if (url === undefined || url === "") {
    throw new UsageError("no database: pass --database-url <postgres-url> or set DATABASE_URL");
  }
  const { default: pgModule } = await importPg("warren outbox");
  const pool = new pgModule.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 10_000,
  });
  pool.on("error", () => {}); // an idle client's error surfaces on the next query
  const table = stringFlag(context.values, "table");
  try {
    return await fn(
      createPostgresOutbox({ pool, ...(table === undefined ? {} : { table }) }),
      pool,
    );
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function printFailed(context: CommandContext, total: number, rows: FailedRow[]): void {
  const { out } = context;
  out.line(
    total === 0
      ? "No failed outbox rows."
      : `${total} failed outbox row${total === 1 ? "" : "s"}${rows.length < total ? ` (showing the first ${rows.length})` : ""}:`,
  );
  for (const row of rows) {
    out.line();
    out.line(
      `#${row.id}  messageId ${row.messageId}  attempts ${row.attempts}  created ${row.createdAt}`,
    );
    out.line(
      `    to: exchange "${row.exchange}", routing key "${row.routingKey}"${row.orderingKey === null ? "" : `, ordering key "${row.orderingKey}"`}`,
    );
    out.line(`    error: ${row.lastError ?? "-"}`);
    out.line(`    body: ${row.bodyPreview}`);
  }
}

const failed: Command = {
  summary: "list outbox rows kept as failed, with their last error",
  usage: "[--limit N]",
  help: [...databaseHelp, "--limit <n>                 show at most n rows (default 100)"],
  positionals: [],
  options: { ...databaseOptions, limit: { type: "string" } },
  globals: [],
  async run(context) {
    const limit = integerFlag(context.values, "limit") ?? 100;
    const { total, rows } = await withOutbox(context, (outbox) => outbox.listFailed({ limit }));
    context.out.result({ ok: true, total, rows });
    printFailed(context, total, rows);
    return 0;
  },
};

const retry: Command = {
  summary: "put failed outbox rows back to pending (all, or --id)",
  usage: "[--id ID ...]",
  help: [...databaseHelp, "--id <id>                   only this row (repeatable)"],
  positionals: [],
  options: { ...databaseOptions, id: { type: "string", multiple: true } },
  globals: [],
  async run(context) {
    const raw = context.values.id;
    const ids = Array.isArray(raw) ? raw.map(String) : undefined;
    for (const id of ids ?? []) {
      if (!/^\d+$/.test(id)) throw new UsageError(`--id must be a row id (a number), got "${id}"`);
    }
    const retried = await withOutbox(context, (outbox) => outbox.retryFailed(ids));
    context.out.result({ ok: true, retried });
    context.out.line(`Put ${retried} failed row${retried === 1 ? "" : "s"} back to pending.`);
    return 0;
  },
};

const relay: Command = {
  summary: "publish committed outbox rows with confirms until SIGTERM",
  usage: "[--batch-size N] [--poll-interval-ms MS] [--max-attempts N] [--metrics-port P]",
  help: [
    ...databaseHelp,
    "--batch-size <n>            rows per transaction (default 200)",
    "--poll-interval-ms <ms>     poll interval besides LISTEN/NOTIFY (default 1000)",
    "--max-attempts <n>          broker refusals before a row is kept as failed (default 10)",
    "--retention-ms <ms>         keep sent rows this long; 0 deletes at once (default 86400000)",
    "--metrics-port <port>       serve /metrics, /healthz and /readyz on 127.0.0.1:port",
  ],
  positionals: [],
  options: {
    ...databaseOptions,
    "batch-size": { type: "string" },
    "poll-interval-ms": { type: "string" },
    "max-attempts": { type: "string" },
    "retention-ms": { type: "string" },
    "metrics-port": { type: "string" },
  },
  globals: amqpClientFlags,
  async run(context) {
    const { values, out } = context;
    const registry = new Registry();
    const options: RelayOptions = { registry };
    const flags = [
      ["batch-size", "batchSize", 1],
      ["poll-interval-ms", "pollIntervalMs", 1],
      ["max-attempts", "maxAttempts", 1],
      ["retention-ms", "retentionMs", 0],
    ] as const;
    for (const [flag, key, min] of flags) {
      const value = integerFlag(values, flag, min);
      if (value !== undefined) options[key] = value;
    }
    const metricsPort = integerFlag(values, "metrics-port", 0);
    const endpoint = await clientEndpoint(values, context.io.env);
    const logger = pino({ level: context.io.env.WARREN_LOG_LEVEL ?? "warn" }, pino.destination(2));
    return withOutbox(context, async (outbox) => {
      const warren = await connect({
        ...endpoint,
        serviceName: "warren outbox relay",
        logger,
        registry,
        initialConnectDeadlineMs: 30_000,
      });
      try {
        const running = await outbox.startRelay(warren, options);
        const health =
          metricsPort === undefined
            ? undefined
            : await serveHealth({
                registry,
                readiness: () => warren.readiness(),
                port: metricsPort,
              });
        let relayed = 0;
        running.on("sent", (rows) => {
          relayed += rows.length;
        });
        out.line(
          `Relaying outbox table "${outbox.table}"${health === undefined ? "" : `; metrics on ${health.url}/metrics`}. Stop with SIGTERM.`,
        );
        // The CLI owns the process, so it may wait for a signal; the relay
        // finishes its batch (confirmed rows are marked) before it stops.
        await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
        await running.stop();
        await health?.close();
        out.result({ ok: true, relayed });
        out.line(`Stopped after relaying ${relayed} row${relayed === 1 ? "" : "s"}.`);
        return 0;
      } finally {
        await warren.close();
      }
    });
  },
};

/** The `warren outbox` command group. */
export const outboxCommands: CommandGroup = { relay, failed, retry };
