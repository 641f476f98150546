/**
 * The explicit migration of the outbox table. warren never creates it on
 * import or on first use: call {@link migrateOutbox} from a deploy step, or
 * feed {@link outboxMigrationSql} to your own migration tool.
 */
import type { SqlRunner } from "../idempotency/migrate.ts";
import { resolveOutboxTable } from "./table.ts";

/** Options of {@link migrateOutbox}. */
export interface OutboxMigrationOptions {
  /** Table name, optionally schema-qualified. @default "warren_outbox" */
  table?: string;
}

/**
 * The SQL that creates the outbox table and its indexes. Idempotent
 * (`IF NOT EXISTS`) and serialised by a transaction-scoped advisory lock, so
 * several processes may run it at once. The partial indexes keep the relay's
 * claim and the metrics query proportional to the pending rows, not to the
 * rows kept for retention.
 */
export function outboxMigrationSql(options: OutboxMigrationOptions = {}): string {
  const table = resolveOutboxTable(options.table);
  const t = table.quoted;
  const p = table.indexPrefix;
  return `SELECT pg_advisory_xact_lock(hashtext('warren-outbox:${table.name}'));
CREATE TABLE IF NOT EXISTS ${t} (
  id bigserial PRIMARY KEY,
  message_id text NOT NULL UNIQUE,
  exchange text NOT NULL,
  routing_key text NOT NULL,
  body bytea NOT NULL,
  properties jsonb NOT NULL,
  mandatory boolean NOT NULL DEFAULT true,
  ordering_key text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
CREATE INDEX IF NOT EXISTS "${p}_pending_idx" ON ${t} (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS "${p}_ordering_idx" ON ${t} (ordering_key, id) WHERE status = 'pending' AND ordering_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS "${p}_sent_idx" ON ${t} (sent_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS "${p}_failed_idx" ON ${t} (id) WHERE status = 'failed';`;
}

/**
 * Creates the outbox table (and its indexes) when missing. Safe to run on
 * every deploy and from several processes at once.
 *
 * @example await migrateOutbox(pool);
 * @throws OutboxError `WARREN_INVALID_OPTIONS` for a bad table name.
 */
export async function migrateOutbox(
  db: SqlRunner,
  options: OutboxMigrationOptions = {},
): Promise<void> {
  await db.query(outboxMigrationSql(options));
}
