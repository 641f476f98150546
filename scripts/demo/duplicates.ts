/**
 * Staged duplicates: copies of messages the relay already published, sent
 * again with the same messageId, as an in-doubt republish (a relay killed
 * between confirm and mark) would. The workers' idempotency guard must ack
 * them without running the step twice.
 */
import type { Pool } from "pg";
import type { Warren } from "../../src/index.ts";

/** Re-sends up to `count` already-sent outbox rows; resolves to how many. */
export async function sendDuplicates(
  pool: Pool,
  outboxTable: string,
  warren: Warren,
  count: number,
): Promise<number> {
  const { rows } = await pool.query<{
    exchange: string;
    routing_key: string;
    body: Buffer;
    properties: Record<string, unknown>;
  }>(
    `SELECT exchange, routing_key, body, properties FROM ${outboxTable}
     WHERE status = 'sent' ORDER BY random() LIMIT $1`,
    [count],
  );
  await Promise.all(
    rows.map((row) =>
      warren.send({
        exchange: row.exchange,
        routingKey: row.routing_key,
        content: row.body,
        properties: row.properties,
      }),
    ),
  );
  return rows.length;
}
