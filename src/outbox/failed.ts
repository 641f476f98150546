/**
 * Rows the relay gave up on: refused by the broker (unroutable, nacked)
 * `maxAttempts` times. They are never deleted by warren; an operator lists
 * them (`warren outbox failed`), fixes the cause (a missing binding) and puts
 * them back (`warren outbox retry`).
 */
import type { Pool } from "pg";
import { explainOutboxError, type OutboxTable, outboxStatements } from "./table.ts";

/** One failed row, as `warren outbox failed` shows it. */
export interface FailedRow {
  id: string;
  messageId: string;
  exchange: string;
  routingKey: string;
  orderingKey: string | null;
  attempts: number;
  lastError: string | null;
  /** ISO time of the insert. */
  createdAt: string;
  /** The body as text, cut at 200 characters. */
  bodyPreview: string;
}

/** Lists up to `limit` failed rows, oldest first, and how many there are. */
export async function listFailedRows(
  pool: Pool,
  table: OutboxTable,
  limit: number,
): Promise<{ total: number; rows: FailedRow[] }> {
  const statements = outboxStatements(table);
  try {
    const [count, list] = await Promise.all([
      pool.query<{ n: number }>(statements.countFailed),
      pool.query(statements.listFailed, [limit]),
    ]);
    return {
      total: count.rows[0]?.n ?? 0,
      rows: list.rows.map((row) => {
        const body = (row.body as Buffer).toString("utf8");
        return {
          id: String(row.id),
          messageId: row.message_id,
          exchange: row.exchange,
          routingKey: row.routing_key,
          orderingKey: row.ordering_key,
          attempts: row.attempts,
          lastError: row.last_error,
          createdAt: (row.created_at as Date).toISOString(),
          bodyPreview: body.length > 200 ? `${body.slice(0, 200)}...` : body,
        };
      }),
    };
  } catch (error) {
    throw explainOutboxError(error, table, "listing failed outbox rows");
  }
}

/** Puts failed rows (all, or those ids) back to pending with fresh attempts. */
export async function retryFailedRows(
  pool: Pool,
  table: OutboxTable,
  ids?: readonly string[],
): Promise<number> {
  try {
    const result = await pool.query(outboxStatements(table).retryFailed, [ids ?? null]);
    return result.rowCount ?? 0;
  } catch (error) {
    throw explainOutboxError(error, table, "retrying failed outbox rows");
  }
}
