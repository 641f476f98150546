/**
 * The explicit migration of the PostgreSQL idempotency table. warren never
 * creates it on import or on first use: call {@link migrateIdempotencyStore}
 * from a deploy step, or feed {@link idempotencyMigrationSql} to your own
 * migration tool.
 */
import { resolveIdempotencyTable } from "./postgres-table.ts";

/** Anything that runs a plain SQL string: a `pg` Pool, Client or PoolClient. */
export interface SqlRunner {
  query(text: string): Promise<unknown>;
}

/** Options of {@link migrateIdempotencyStore}. */
export interface IdempotencyMigrationOptions {
  /** Table name, optionally schema-qualified. @default "warren_idempotency" */
  table?: string;
}

/**
 * The SQL that creates the table and its expiry index. Idempotent
 * (`IF NOT EXISTS`), and serialised by a transaction-scoped advisory lock so
 * that several processes may run it at once. Sent as one simple query, the
 * statements run as one implicit transaction; migration tools that wrap
 * files in a transaction may run the text as it is.
 */
export function idempotencyMigrationSql(options: IdempotencyMigrationOptions = {}): string {
  const table = resolveIdempotencyTable(options.table);
  const lockKey = `warren-idempotency:${table.name}`;
  return `SELECT pg_advisory_xact_lock(hashtext('${lockKey}'));
CREATE TABLE IF NOT EXISTS ${table.quoted} (
  key text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('leased', 'done')),
  token text NOT NULL,
  expires_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${table.indexName} ON ${table.quoted} (expires_at);`;
}

/**
 * Creates the idempotency table (and its index) when missing. Safe to run on
 * every deploy and from several processes at once.
 *
 * @example await migrateIdempotencyStore(pool, { table: "warren_idempotency" });
 * @throws IdempotencyError `WARREN_INVALID_OPTIONS` for a bad table name.
 */
export async function migrateIdempotencyStore(
  db: SqlRunner,
  options: IdempotencyMigrationOptions = {},
): Promise<void> {
  await db.query(idempotencyMigrationSql(options));
}
