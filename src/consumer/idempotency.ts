/**
 * Turns the consumer's `idempotency` option into the guard the runtime
 * calls, checked against the queue it guards. The option comes in two forms:
 *
 * - `{ store, leaseMs?, retentionMs?, key? }`: the guard is built here, with
 *   the defaults of `IDEMPOTENCY_DEFAULTS`;
 * - `{ guard, key? }`: a guard built by the caller (for example the
 *   transactional PostgreSQL guard). When it tells its timing, it is checked
 *   the same way.
 *
 * Either way the retention window must cover the queue's retry path and the
 * lease must cover the handler timeout; otherwise the consumer refuses to
 * start with `WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT` or
 * `WARREN_IDEMPOTENCY_LEASE_TOO_SHORT`.
 */
import type { Logger } from "pino";
import { ErrorCode, NonRetryableError } from "../errors.ts";
import { IdempotencyError } from "../idempotency/errors.ts";
import { createIdempotencyGuard, resolveGuardTiming } from "../idempotency/guard.ts";
import type { IdempotencyGuard, IdempotencyStore } from "../idempotency/types.ts";
import type { RetryPolicy } from "../topology/model.ts";

/** `idempotency: { store, ... }`: the consumer builds the guard. */
export interface IdempotencyStoreOption {
  /** Where keys, leases and done marks live. */
  store: IdempotencyStore;
  /** Lease length in milliseconds; at least the handler `timeoutMs`. @default 60_000 */
  leaseMs?: number;
  /** Retention of done keys in milliseconds; at least the retry path. @default 86_400_000 */
  retentionMs?: number;
}

/** `idempotency: { guard }`: a guard built by the caller. */
export interface IdempotencyGuardOption {
  /** Runs the handler at most once per key. */
  guard: IdempotencyGuard<unknown>;
}

/** What the consumer knows when it starts. */
export interface GuardedQueue {
  /** The queue's retry policy (its tiers bound the retry path). */
  policy: RetryPolicy;
  /** The handler timeout in milliseconds; 0 when disabled. */
  timeoutMs: number;
  /** The consumer's logger, for a guard built here (failed releases). */
  logger?: Logger | undefined;
}

/**
 * The guard for one consumer, validated against its queue. Call it once,
 * when the consumer starts.
 *
 * @throws IdempotencyError `WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT`,
 *   `WARREN_IDEMPOTENCY_LEASE_TOO_SHORT`, `WARREN_INVALID_OPTIONS`
 */
export function resolveIdempotencyGuard(
  option: IdempotencyStoreOption | IdempotencyGuardOption,
  queue: GuardedQueue,
): IdempotencyGuard<unknown> {
  const limits = {
    policy: queue.policy,
    timeoutMs: queue.timeoutMs > 0 ? queue.timeoutMs : undefined,
  };
  if ("guard" in option) {
    const { guard } = option;
    const timing = guard as Partial<Record<"leaseMs" | "retentionMs", unknown>>;
    if (typeof timing.leaseMs === "number" && typeof timing.retentionMs === "number") {
      resolveGuardTiming({ leaseMs: timing.leaseMs, retentionMs: timing.retentionMs }, limits);
    }
    return guard;
  }
  return createIdempotencyGuard(
    {
      store: option.store,
      ...(option.leaseMs === undefined ? {} : { leaseMs: option.leaseMs }),
      ...(option.retentionMs === undefined ? {} : { retentionMs: option.retentionMs }),
      ...(queue.logger === undefined ? {} : { logger: queue.logger }),
    },
    limits,
  );
}

/**
 * The idempotency key of one message: `key(message, context)` when given,
 * else its `messageId`. A message without one cannot be guarded, and running
 * it unguarded would break the promise the option makes, so this throws a
 * {@link NonRetryableError} (the runtime dead-letters the message at once)
 * whose cause is an `IdempotencyError` coded `WARREN_IDEMPOTENCY_KEY_MISSING`.
 */
export function idempotencyKeyOf<M, C extends { messageId: string | undefined }>(
  key: ((message: M, context: C) => string) | undefined,
  message: M,
  context: C,
): string {
  const value = key === undefined ? context.messageId : key(message, context);
  if (typeof value === "string" && value !== "") return value;
  const cause = new IdempotencyError(
    ErrorCode.WARREN_IDEMPOTENCY_KEY_MISSING,
    key === undefined
      ? "message has no messageId, so the idempotency guard cannot run it; publish it with a messageId or give idempotency.key"
      : "idempotency.key returned no key for this message; return a non-empty string",
  );
  throw new NonRetryableError(`${cause.code}: ${cause.message}`, { cause });
}
