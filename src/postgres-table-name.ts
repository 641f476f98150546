/**
 * The name of a PostgreSQL table warren creates and queries (the
 * idempotency stores' and the outbox's), checked and quoted once, so that
 * no statement is ever built from an unchecked name; and the one error of
 * PostgreSQL that says such a table was never created.
 */

/** A checked table name. */
export interface TableName {
  /** As given, e.g. `warren_outbox` or `shop.outbox`. */
  name: string;
  /** Quoted for SQL, e.g. `"shop"."outbox"`. */
  quoted: string;
  /** The schema (when given) and the table, unquoted. */
  parts: string[];
  /** The table, unquoted and without its schema. */
  table: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Checks `name`: `table` or `schema.table`, each a plain identifier
 * (letters, digits and `_`, at most 63 characters). Undefined when it is not.
 */
export function parseTableName(name: string): TableName | undefined {
  const parts = name.split(".");
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) return undefined;
  return {
    name,
    quoted: parts.map((part) => `"${part}"`).join("."),
    parts,
    table: parts[parts.length - 1] ?? name,
  };
}

/** PostgreSQL's "relation does not exist" (SQLSTATE 42P01): the migration was not run. */
export function isUndefinedTable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "42P01";
}
