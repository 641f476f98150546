import { describe, expect, it } from "vitest";
import { idempotencyMigrationSql } from "../../../src/idempotency/migrate.ts";
import { resolveIdempotencyTable } from "../../../src/idempotency/postgres-table.ts";

describe("PostgreSQL idempotency table name", () => {
  it("quotes plain and schema-qualified names", () => {
    expect(resolveIdempotencyTable().quoted).toBe('"warren_idempotency"');
    expect(resolveIdempotencyTable("jobs.Idem_1")).toMatchObject({
      quoted: '"jobs"."Idem_1"',
      indexName: '"Idem_1_expires_at_idx"',
    });
  });

  it.each(['x"; DROP TABLE y; --', "a.b.c", "1table", "", "has space"])(
    "refuses %j with WARREN_INVALID_OPTIONS",
    (name) => {
      expect(() => resolveIdempotencyTable(name)).toThrow(
        expect.objectContaining({ code: "WARREN_INVALID_OPTIONS" }),
      );
    },
  );

  it("migrates with IF NOT EXISTS under an advisory lock, in one implicit transaction", () => {
    const sql = idempotencyMigrationSql({ table: "idem" });
    expect(sql).toContain("pg_advisory_xact_lock");
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "idem"');
    expect(sql).not.toMatch(/\\bBEGIN\\b|\\bCOMMIT\\b/);
  });
});
