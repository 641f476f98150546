/**
 * The PostgreSQL table behind the idempotency stores, and the statements
 * that read and write it. One row per key: `state` is `leased` (held by the
 * holder of `token` until `expires_at`) or `done` (remembered until
 * `expires_at`). Expiry is always computed with the database clock
 * (`now()`), so consumers on hosts with skewed clocks agree on it.
 *
 * Table names are validated and quoted here, once; every statement is built
 * from the resolved {@link IdempotencyTable}.
 */

import { ErrorCode } from "../errors.ts";
import { invalidOption } from "../options.ts";
import { isUndefinedTable, parseTableName, type TableName } from "../postgres-table-name.ts";
import { IdempotencyError } from "./errors.ts";

/** Default table name of the PostgreSQL stores. */
export const DEFAULT_IDEMPOTENCY_TABLE = "warren_idempotency";

/** A validated table name with its SQL statements. */
export interface IdempotencyTable extends Pick<TableName, "name" | "quoted"> {
  /** Quoted name of its expiry index (in the table's schema). */
  indexName: string;
}

/**
 * Validates `name` (`table` or `schema.table`, letters, digits and `_`).
 *
 * @throws IdempotencyError `WARREN_INVALID_OPTIONS`
 */
export function resolveIdempotencyTable(name = DEFAULT_IDEMPOTENCY_TABLE): IdempotencyTable {
  const parsed = parseTableName(name);
  if (parsed === undefined) {
    throw invalidOption(
      { context: "idempotency table", errorClass: IdempotencyError },
      "table",
      name,
      'a plain identifier: letters, digits and "_", optionally qualified by a schema ("schema.table")',
    );
  }
  return {
    name,
    quoted: parsed.quoted,
    indexName: `"${parsed.table.slice(0, 48)}_expires_at_idx"`,
  };
}

/** The SQL the stores run, bound to one table. */
export function idempotencyStatements(table: IdempotencyTable) {
  const t = table.quoted;
  return {
    // Takes a free, released or expired key; otherwise reports the row's
    // state as it was before this statement (the CTE's snapshot). A row that
    // a concurrent transaction just inserted is invisible to that snapshot:
    // state comes back null, which means someone else holds it.
    //
    // The lease is committed asynchronously (synchronous_commit off for this
    // statement's own transaction): a lease lost in a database crash only
    // lets a copy take the key early, and the old holder's complete is then
    // refused by the token, as after any takeover. The done mark, which the
    // guarantee rests on, is committed durably.
    begin: `WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
taken AS (
  INSERT INTO ${t} AS r (key, state, token, expires_at)
  VALUES ($1, 'leased', $2, now() + $3::bigint * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE
    SET state = 'leased', token = excluded.token, expires_at = excluded.expires_at, updated_at = now()
    WHERE r.expires_at <= now()
  RETURNING r.token
)
SELECT (SELECT token FROM taken) AS token, (SELECT state FROM ${t} WHERE key = $1) AS state
FROM async_commit`,
    complete: `UPDATE ${t}
SET state = 'done', expires_at = now() + $3::bigint * interval '1 millisecond', updated_at = now()
WHERE key = $1 AND token = $2 AND state = 'leased'`,
    // The done mark of the transactional guard, sent with COMMIT in one
    // query: when the lease was taken over it matches no row and the
    // division by zero (SQLSTATE 22012) aborts the transaction, so the
    // COMMIT after it never runs and the handler's writes are rolled back.
    fencedDone: `WITH done AS (
  UPDATE ${t}
  SET state = 'done', expires_at = now() + $3::bigint * interval '1 millisecond', updated_at = now()
  WHERE key = $1 AND token = $2 AND state = 'leased'
  RETURNING 1
)
SELECT 1 / (SELECT count(*)::int FROM done) AS fenced`,
    // Asynchronous too: a lost release only means the lease runs out instead.
    release: `WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
DELETE FROM ${t} WHERE key = $1 AND token = $2 AND state = 'leased'
  AND EXISTS (SELECT FROM async_commit)`,
    // Batched, skipping rows a holder has locked (a transactional complete
    // in flight), so a purge never waits on or blocks a handler.
    purge: `DELETE FROM ${t} WHERE key IN (
  SELECT key FROM ${t} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED
)`,
  };
}

/**
 * Turns "relation does not exist" into an error that says to run the
 * migration; other errors pass through unchanged.
 */
export function explainTableError(error: unknown, table: IdempotencyTable): unknown {
  if (!isUndefinedTable(error)) return error;
  return new IdempotencyError(
    ErrorCode.WARREN_IDEMPOTENCY_TABLE_MISSING,
    `idempotency table ${table.quoted} does not exist; create it once with \`await migrateIdempotencyStore(pool, { table: "${table.name}" })\` (or run the SQL from idempotencyMigrationSql()) before consuming`,
    { cause: error },
  );
}
