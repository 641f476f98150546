import pg from "pg";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { outboxMigrationSql } from "../../../src/outbox/migrate.ts";
import { createPostgresOutbox } from "../../../src/outbox/outbox.ts";
import { resolveOutboxTable } from "../../../src/outbox/table.ts";
import { defineMessages } from "../../../src/publisher/messages.ts";

describe("outbox options", () => {
  it("quotes plain and schema-qualified table names and derives the NOTIFY channel", () => {
    expect(resolveOutboxTable()).toMatchObject({
      quoted: '"warren_outbox"',
      channel: "warren_outbox_warren_outbox",
    });
    expect(resolveOutboxTable("shop.Outbox")).toMatchObject({
      quoted: '"shop"."Outbox"',
      channel: "warren_outbox_shop_outbox",
    });
  });

  it.each(["", "a.b.c", "drop table;", 'x"y', "1abc"])("refuses the table name %j", (name) => {
    expect(() => resolveOutboxTable(name)).toThrow(
      expect.objectContaining({ code: "WARREN_INVALID_OPTIONS" }),
    );
    expect(() => outboxMigrationSql({ table: name })).toThrow(/not a plain identifier/);
  });

  it("creates the table and its indexes idempotently under an advisory lock", () => {
    const sql = outboxMigrationSql({ table: "shop.outbox" });
    expect(sql).toMatch(/^SELECT pg_advisory_xact_lock/);
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "shop"."outbox"');
    expect(sql.match(/CREATE INDEX IF NOT EXISTS/g)).toHaveLength(4);
  });

  it("refuses a bad maxBytes and an empty ordering key before touching the database", async () => {
    const pool = new pg.Pool({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    expect(() => createPostgresOutbox({ pool, maxBytes: 0 })).toThrow(
      /option maxBytes must be an integer >= 1, got 0/,
    );
    const outbox = createPostgresOutbox({
      pool,
      messages: defineMessages({ "order.created": z.object({ orderId: z.string() }) }),
    });
    const client = { query: async () => ({ rows: [] }) };
    await expect(
      outbox.publish(client, "order.created", { orderId: "o" }, { orderingKey: "" }),
    ).rejects.toMatchObject({ code: "WARREN_INVALID_OPTIONS" });
    await expect(outbox.publish(pool, "order.created", { orderId: "o" })).rejects.toMatchObject({
      code: "WARREN_OUTBOX_NOT_IN_TRANSACTION",
    });
    await pool.end();
  });

  it("refuses unknown and out-of-range relay options", async () => {
    const pool = new pg.Pool({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    const outbox = createPostgresOutbox({ pool });
    // Options are checked before the client or the database is used.
    const fake = { metrics: { registry: undefined }, logger: { child: () => ({}) } } as never;
    await expect(outbox.startRelay(fake, { batchSize: 0 })).rejects.toMatchObject({
      code: "WARREN_INVALID_OPTIONS",
    });
    await expect(outbox.startRelay(fake, { retentionMs: -1 })).rejects.toThrow(
      /option retentionMs must be an integer >= 0, got -1/,
    );
    await expect(outbox.startRelay(fake, { nope: 1 } as never)).rejects.toThrow(/nope/);
    await pool.end();
  });
});
