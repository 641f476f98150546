/**
 * Errors of the idempotency guard and its stores. Codes are catalogued in
 * docs/errors.md. Configuration mistakes (a retention window shorter than the
 * retry path, a missing table) are thrown when the guard or store is created
 * or first used, so they surface at startup rather than on the first
 * duplicate.
 */
import { WarrenError } from "../errors.ts";

/** An idempotency guard or store is misconfigured, or lost its lease. */
export class IdempotencyError extends WarrenError {}
