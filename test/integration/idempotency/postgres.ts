/**
 * PostgreSQL for the idempotency integration tests: a pool on the run's
 * database (test/support/postgres.ts) and a uniquely named, migrated table
 * per test, dropped after.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrateIdempotencyStore } from "../../../src/idempotency/migrate.ts";
import { databaseUrl } from "../../support/postgres.ts";

export { databaseUrl };

export function randomTable(): string {
  return `idem_${randomBytes(5).toString("hex")}`;
}

export function newPool(max = 4): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl(), max });
}

/**
 * A migrated idempotency table, with `<table>_runs` (one row per handler
 * call) and `<table>_effects` (the side effect the guard protects), and a
 * cleanup that drops all three.
 */
export async function withTable(pool: pg.Pool) {
  const table = randomTable();
  await migrateIdempotencyStore(pool, { table });
  await pool.query(`
    CREATE TABLE "${table}_runs" (
      key text NOT NULL, worker text NOT NULL DEFAULT '', started_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE "${table}_effects" (key text NOT NULL, worker text NOT NULL DEFAULT '');`);
  return {
    table,
    drop: async () => {
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_runs", "${table}_effects"`);
    },
  };
}
