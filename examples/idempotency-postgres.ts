import pg from "pg";
import { createPostgresIdempotencyStore, migrateIdempotencyStore } from "../src/index.ts";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
await migrateIdempotencyStore(pool, { table: "warren_idempotency" }); // once, at deploy
export const store = createPostgresIdempotencyStore({ pool, table: "warren_idempotency" });
