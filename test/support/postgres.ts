/** The run's PostgreSQL server, from test/support/global-setup.ts. */
import { inject } from "vitest";
import "./context.ts";

/**
 * URL of the run's PostgreSQL server. Throws, with the reason and how to get
 * one, when the global setup found none.
 */
export function databaseUrl(): string {
  const url = inject("DATABASE_URL");
  if (url === "") throw new Error(inject("DATABASE_ERROR"));
  return url;
}
