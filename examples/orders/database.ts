/**
 * The demo's tables, all in one schema of its own (so that a run against an
 * existing database touches nothing else): orders, the effects the workers
 * produce (one row per order and step, written in the idempotency guard's
 * transaction), the outbox and the idempotency keys.
 */
import type { Pool } from "pg";
import { migrateIdempotencyStore, migrateOutbox } from "../../src/index.ts";

/** The steps every order goes through, one per queue. */
export const STEPS = ["fulfilment", "email", "invoice"] as const;
export type Step = (typeof STEPS)[number];

/** Table names inside `schema`. */
export function tables(schema: string) {
  return {
    orders: `${schema}.orders`,
    effects: `${schema}.effects`,
    outbox: `${schema}.outbox`,
    idempotency: `${schema}.idempotency`,
  };
}

/** Creates the schema and its tables; safe to run again. */
export async function migrate(pool: Pool, schema: string): Promise<void> {
  const t = tables(schema);
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema};
CREATE TABLE IF NOT EXISTS ${t.orders} (
  id text PRIMARY KEY,
  customer text NOT NULL,
  total integer NOT NULL,
  simulate text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS ${t.effects} (
  order_id text NOT NULL,
  step text NOT NULL,
  worker text NOT NULL,
  done_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS effects_order_idx ON ${t.effects} (order_id);`);
  await migrateOutbox(pool, { table: t.outbox });
  await migrateIdempotencyStore(pool, { table: t.idempotency });
}

/** Checks a schema name before it is put into SQL. */
export function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) throw new Error(`bad schema name "${schema}"`);
  return schema;
}
