/**
 * A PostgreSQL idempotency store: shared by every consumer process, durable
 * across restarts. Each call is one statement on the pool (autocommit), so
 * the store holds no connection between calls. The table must exist: create
 * it with `migrateIdempotencyStore` (see migrate.ts).
 */
import { randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import { z } from "zod";
import { integer, nonEmptyString, opaque, resolveOptions } from "../options.ts";
import { IdempotencyError } from "./errors.ts";
import {
  explainTableError,
  type IdempotencyTable,
  idempotencyStatements,
  resolveIdempotencyTable,
} from "./postgres-table.ts";
import type { BeginResult, IdempotencyStore } from "./types.ts";

/** What `pg` resolves a query with, as far as the store reads it. */
interface QueryResultLike {
  rowCount: number | null;
  rows: Record<string, unknown>[];
}

/** SQLSTATE of the fenced done mark matching nothing: division_by_zero, see postgres-table.ts. */
const LEASE_LOST_SQLSTATE = "22012";

/** The lease statement's row: acquired when it carries our token. */
function beginResult(row: Record<string, unknown> | undefined, token: string): BeginResult {
  if (row?.token === token) return { status: "acquired", token };
  return row?.state === "done" ? { status: "done" } : { status: "in-progress" };
}

/**
 * `text` with `$1`, `$2`, ... replaced by literals: strings quoted by the
 * connection's own `escapeLiteral`, numbers as integers. Only a query
 * without parameters may hold several statements (the simple protocol).
 */
function withLiterals(client: PoolClient, text: string, values: (string | number)[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = values[Number(n) - 1];
    if (typeof value === "number") return String(Math.trunc(value));
    return client.escapeLiteral(String(value));
  });
}

/** Defaults of {@link PostgresIdempotencyStoreOptions}. */
export const POSTGRES_STORE_DEFAULTS = Object.freeze({
  /**
   * The table's name, optionally schema-qualified.
   * @default "warren_idempotency"
   */
  table: "warren_idempotency",
  /**
   * Rows deleted per statement by `purgeExpired()`.
   * @default 1_000
   */
  purgeBatchSize: 1_000,
});

const postgresStoreSchema = z.object({
  pool: opaque<Pool>().refine((pool) => typeof pool?.query === "function", {
    error: "a pg Pool",
  }),
  table: nonEmptyString().default(POSTGRES_STORE_DEFAULTS.table),
  purgeBatchSize: integer(1).default(POSTGRES_STORE_DEFAULTS.purgeBatchSize),
});

/** Options of {@link createPostgresIdempotencyStore}. */
export interface PostgresIdempotencyStoreOptions {
  /** A `pg` pool; the store borrows a connection per call. */
  pool: Pool;
  /** Table name, optionally schema-qualified. @default "warren_idempotency" */
  table?: string;
  /** Rows deleted per statement by `purgeExpired()`. @default 1_000 */
  purgeBatchSize?: number;
}

/** The PostgreSQL store; also what the transactional guard builds on. */
export interface PostgresIdempotencyStore extends IdempotencyStore {
  /** The pool the store was created with. */
  readonly pool: Pool;
  /** The validated table. */
  readonly table: IdempotencyTable;
  /**
   * {@link IdempotencyStore.complete} on a given connection, so that the
   * done mark joins that connection's open transaction.
   */
  completeOn(client: PoolClient, key: string, token: string, retentionMs: number): Promise<boolean>;
  /**
   * The transactional guard's first round trip, on `client`: takes the
   * lease and commits it (asynchronously, as `begin` does), then opens the
   * transaction the handler runs in (`BEGIN`), all in one simple-protocol
   * query. When the lease is not acquired the transaction is open all the
   * same: roll it back.
   */
  beginTransaction(client: PoolClient, key: string, leaseMs: number): Promise<BeginResult>;
  /**
   * The transactional guard's last round trip, on `client`: the fenced done
   * mark and `COMMIT` in one query. Resolves false when the lease was taken
   * over: the mark matched nothing, the transaction is aborted (roll it
   * back) and nothing of it commits. Rejects when COMMIT fails.
   */
  commitDone(client: PoolClient, key: string, token: string, retentionMs: number): Promise<boolean>;
}

/**
 * Creates a PostgreSQL store. Creating it runs no SQL; the first call on a
 * missing table rejects with `WARREN_IDEMPOTENCY_TABLE_MISSING`.
 *
 * @throws IdempotencyError `WARREN_INVALID_OPTIONS` for a bad
 *   table name or batch size.
 */
export function createPostgresIdempotencyStore(
  options: PostgresIdempotencyStoreOptions,
): PostgresIdempotencyStore {
  const resolved = resolveOptions(postgresStoreSchema, options, {
    context: "postgres idempotency store",
    errorClass: IdempotencyError,
  });
  const { pool } = resolved;
  const table = resolveIdempotencyTable(resolved.table);
  const batchSize = resolved.purgeBatchSize;
  const sql = idempotencyStatements(table);

  async function query(
    db: Pool | PoolClient,
    text: string,
    values: unknown[],
  ): Promise<{ rowCount: number | null; rows: Record<string, unknown>[] }> {
    try {
      return await db.query(text, values);
    } catch (error) {
      throw explainTableError(error, table);
    }
  }

  async function completeOn(
    db: Pool | PoolClient,
    key: string,
    token: string,
    retentionMs: number,
  ): Promise<boolean> {
    const result = await query(db, sql.complete, [key, token, retentionMs]);
    return result.rowCount === 1;
  }

  /** Several statements in one simple-protocol query: one round trip, an array of results. */
  async function multi(client: PoolClient, text: string): Promise<QueryResultLike[]> {
    try {
      return (await client.query(text)) as unknown as QueryResultLike[];
    } catch (error) {
      throw explainTableError(error, table);
    }
  }

  return {
    pool,
    table,
    async begin(key, leaseMs): Promise<BeginResult> {
      const token = randomUUID();
      const { rows } = await query(pool, sql.begin, [key, token, leaseMs]);
      return beginResult(rows[0], token);
    },
    async beginTransaction(client, key, leaseMs): Promise<BeginResult> {
      const token = randomUUID();
      const lease = withLiterals(client, sql.begin, [key, token, leaseMs]);
      const results = await multi(client, `${lease};\nCOMMIT;\nBEGIN`);
      return beginResult(results[0]?.rows[0], token);
    },
    async commitDone(client, key, token, retentionMs): Promise<boolean> {
      const mark = withLiterals(client, sql.fencedDone, [key, token, retentionMs]);
      try {
        await multi(client, `${mark};\nCOMMIT`);
        return true;
      } catch (error) {
        if ((error as { code?: unknown }).code === LEASE_LOST_SQLSTATE) return false;
        throw error;
      }
    },
    complete: (key, token, retentionMs) => completeOn(pool, key, token, retentionMs),
    completeOn,
    async release(key, token) {
      await query(pool, sql.release, [key, token]);
    },
    async purgeExpired() {
      let total = 0;
      for (;;) {
        const { rowCount } = await query(pool, sql.purge, [batchSize]);
        total += rowCount ?? 0;
        if ((rowCount ?? 0) < batchSize) return total;
      }
    },
  };
}
