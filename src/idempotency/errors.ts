/**
 * Errors of the idempotency guard and its stores. Codes are catalogued in
 * docs/errors.md. Configuration mistakes (a retention window shorter than the
 * retry path, a missing table) are thrown when the guard or store is created
 * or first used, so they surface at startup rather than on the first
 * duplicate.
 */
import { ErrorCode, WarrenError } from "../errors.ts";

/** An idempotency guard or store is misconfigured, or lost its lease. */
export class IdempotencyError extends WarrenError {}

/** Stable codes of {@link IdempotencyError}. */
export const IdempotencyErrorCode = Object.freeze({
  /** `retentionMs` is shorter than the queue's retry path. */
  retentionTooShort: ErrorCode.WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT,
  /** `leaseMs` is shorter than the handler timeout. */
  leaseTooShort: ErrorCode.WARREN_IDEMPOTENCY_LEASE_TOO_SHORT,
  /** A numeric option or a table name is out of range or malformed (the code shared by every options object). */
  invalidOptions: ErrorCode.WARREN_INVALID_OPTIONS,
  /** The lease expired and was taken over before the work finished. */
  leaseLost: ErrorCode.WARREN_IDEMPOTENCY_LEASE_LOST,
  /** The message has no key (no `messageId`, or `key()` returned nothing). */
  keyMissing: ErrorCode.WARREN_IDEMPOTENCY_KEY_MISSING,
  /** The in-memory store holds `maxKeys` live leases and cannot take more. */
  storeFull: ErrorCode.WARREN_IDEMPOTENCY_STORE_FULL,
  /** The PostgreSQL table does not exist: the migration was not run. */
  tableMissing: ErrorCode.WARREN_IDEMPOTENCY_TABLE_MISSING,
} as const);
