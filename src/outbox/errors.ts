/**
 * Errors of the transactional outbox (codes catalogued in docs/errors.md).
 * A message that fails the registry or `maxBytes` is refused with the
 * publisher's own `PublishError` codes, since it is the same check.
 */
import { WarrenError } from "../errors.ts";

/** The outbox is misconfigured, its table is missing, or PostgreSQL failed. */
export class OutboxError extends WarrenError {}

/** Stable codes of {@link OutboxError}. */
export const OutboxErrorCode = Object.freeze({
  /** An option (table name, batch size, delay, ordering key) is malformed or out of range. */
  invalidOptions: "WARREN_OUTBOX_INVALID_OPTIONS",
  /** The outbox table does not exist: the migration was not run. */
  tableMissing: "WARREN_OUTBOX_TABLE_MISSING",
  /** `outbox.publish` was given a client outside a transaction (or a pool). */
  notInTransaction: "WARREN_OUTBOX_NOT_IN_TRANSACTION",
  /** PostgreSQL could not be reached, or the connection broke mid-transaction. */
  databaseUnavailable: "WARREN_OUTBOX_DATABASE_UNAVAILABLE",
  /** The relay was started twice, or used after `stop()`. */
  relayState: "WARREN_OUTBOX_RELAY_STATE",
} as const);
