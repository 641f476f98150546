import type { Pool } from "pg";
import { z } from "zod";
import { createPostgresOutbox, defineMessages, migrateOutbox, type Warren } from "../src/index.ts";

const messages = defineMessages({
  "order.created": z.object({ orderId: z.string(), total: z.number() }),
});

/** Once per service: the table, the outbox, and a relay in this process. */
export async function startOutbox(pool: Pool, warren: Warren) {
  await migrateOutbox(pool); // or run outboxMigrationSql() with your migration tool
  const outbox = createPostgresOutbox({ pool, messages, exchange: "orders" });
  const relay = await outbox.startRelay(warren); // or as its own process: warren outbox relay
  return { outbox, relay }; // on shutdown: await relay.stop()
}
