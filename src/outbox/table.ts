/**
 * The outbox table and the statements that read and write it. One row per
 * message, written in the caller's transaction: `status` is `pending` until
 * a relay has the broker's confirm, then `sent` (kept for `retentionMs`, then
 * deleted in batches) or, after `maxAttempts` refusals, `failed` (kept with
 * its error until an operator acts). Times use the database clock.
 *
 * The table name is validated and quoted here, once; every statement is
 * built from the resolved {@link OutboxTable}.
 */
import { ErrorCode } from "../errors.ts";
import { isUndefinedTable, parseTableName, type TableName } from "../postgres-table-name.ts";
import { OutboxError } from "./errors.ts";

/** Default table name of the outbox. */
export const DEFAULT_OUTBOX_TABLE = "warren_outbox";

/** A validated table name with derived names. */
export interface OutboxTable extends Pick<TableName, "name" | "quoted"> {
  /** Prefix for its index names (unquoted, in the table's schema). */
  indexPrefix: string;
  /** LISTEN/NOTIFY channel woken by every insert, e.g. `warren_outbox`. */
  channel: string;
}

/**
 * Validates `name` (`table` or `schema.table`: letters, digits and `_`).
 *
 * @throws OutboxError `WARREN_INVALID_OPTIONS`
 */
export function resolveOutboxTable(name = DEFAULT_OUTBOX_TABLE): OutboxTable {
  const parsed = parseTableName(name);
  if (parsed === undefined) {
    throw new OutboxError(
      ErrorCode.WARREN_INVALID_OPTIONS,
      `outbox table "${name}" is not a plain identifier; use letters, digits and "_", optionally qualified by a schema ("schema.table")`,
    );
  }
  return {
    name,
    quoted: parsed.quoted,
    indexPrefix: parsed.table.slice(0, 40),
    channel: `warren_outbox_${parsed.parts.join("_")}`.slice(0, 63).toLowerCase(),
  };
}

/** The SQL the outbox and its relays run, bound to one table. */
export function outboxStatements(table: OutboxTable) {
  const t = table.quoted;
  return {
    // The NOTIFY is delivered at COMMIT, and never after a ROLLBACK.
    insert: `WITH row AS (
  INSERT INTO ${t} (message_id, exchange, routing_key, body, properties, mandatory, ordering_key, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())
  RETURNING id
)
SELECT id, pg_notify('${table.channel}', '') AS notified FROM row`,
    // A batch of due rows, locked so that concurrent relays take disjoint
    // batches. A row with an ordering key is taken only by the relay that
    // holds its key's advisory lock, and only when no earlier row of its key
    // is still waiting out a backoff: the key's rows go out in id order.
    claim: `SELECT id, message_id, exchange, routing_key, body, properties, mandatory, ordering_key, attempts,
  extract(epoch FROM clock_timestamp() - created_at)::float8 AS age_seconds
FROM ${t} o
WHERE status = 'pending' AND next_attempt_at <= now()
  AND (ordering_key IS NULL OR (
    pg_try_advisory_xact_lock(hashtext('${table.name}'), hashtext(ordering_key))
    AND NOT EXISTS (
      SELECT FROM ${t} e
      WHERE e.ordering_key = o.ordering_key AND e.status = 'pending' AND e.id < o.id
        AND e.next_attempt_at > now())))
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED`,
    // The first pending row of each key, read after the claim: a claim's scan
    // can take a key's advisory lock only after another relay committed, past
    // the key's earlier rows it had already skipped (relay.ts, inKeyOrder).
    firstPending: `SELECT ordering_key, min(id)::text AS first FROM ${t}
WHERE status = 'pending' AND ordering_key = ANY($1::text[]) GROUP BY ordering_key`,
    markSent: `UPDATE ${t} SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = ANY($1::bigint[])`,
    deleteSent: `DELETE FROM ${t} WHERE id = ANY($1::bigint[])`,
    // Refused by the broker (unroutable, nacked): try again after a backoff,
    // or keep the row as failed once it has used up its attempts.
    markRefused: `UPDATE ${t} SET
  attempts = attempts + 1,
  last_error = $2,
  status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
  next_attempt_at = now() + least($5::bigint, $4::bigint * power(2, attempts)::bigint) * interval '1 millisecond'
WHERE id = $1`,
    stats: `SELECT
  count(*) FILTER (WHERE status = 'pending')::int AS pending,
  coalesce(extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8 AS oldest_seconds,
  count(*) FILTER (WHERE status = 'failed')::int AS failed
FROM ${t} WHERE status IN ('pending', 'failed')`,
    // Batched and skipping locked rows, so cleanup never waits on a relay
    // and never holds more than one batch of row locks.
    cleanup: `DELETE FROM ${t} WHERE id IN (
  SELECT id FROM ${t} WHERE status = 'sent' AND sent_at < now() - $1::bigint * interval '1 millisecond'
  LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    listFailed: `SELECT id, message_id, exchange, routing_key, ordering_key, attempts, last_error, created_at, body
FROM ${t} WHERE status = 'failed' ORDER BY id LIMIT $1`,
    countFailed: `SELECT count(*)::int AS n FROM ${t} WHERE status = 'failed'`,
    retryFailed: `UPDATE ${t} SET status = 'pending', attempts = 0, next_attempt_at = now()
WHERE status = 'failed' AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))`,
  };
}

/** Socket-level failures and PostgreSQL's "admin shutdown" / "cannot connect now" classes. */
function isUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"].includes(code)
  )
    return true;
  if (code.startsWith("57P") || code.startsWith("08")) return true;
  const message = typeof e?.message === "string" ? e.message : "";
  return /Connection terminated|Client has encountered a connection error|not queryable|connection timeout/i.test(
    message,
  );
}

/**
 * Turns a missing table or a lost database into an {@link OutboxError} that
 * says what to do; other errors pass through unchanged.
 */
export function explainOutboxError(
  error: unknown,
  table: OutboxTable,
  during: string,
  inTransaction = false,
): unknown {
  if (error instanceof OutboxError) return error;
  if (isUndefinedTable(error)) {
    return new OutboxError(
      ErrorCode.WARREN_OUTBOX_TABLE_MISSING,
      `${during}: outbox table ${table.quoted} does not exist; create it once with \`await migrateOutbox(pool, { table: "${table.name}" })\` (or run the SQL from outboxMigrationSql()) before publishing`,
      { cause: error },
    );
  }
  if (isUnavailable(error)) {
    return new OutboxError(
      ErrorCode.WARREN_OUTBOX_DATABASE_UNAVAILABLE,
      `${during}: PostgreSQL is unavailable (${(error as Error).message}). ${
        inTransaction
          ? "The transaction did not commit, so neither your rows nor the outbox row were written. Roll back and retry the whole transaction once the database is back."
          : "Check that the server runs and that the database URL points at it; pending rows wait in the table meanwhile."
      }`,
      { cause: error },
    );
  }
  return error;
}
