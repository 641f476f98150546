/**
 * The idempotency guard: begin → work → complete, or release on failure
 * (docs/architecture.md#idempotency-leases). Options are validated once, here, against the queue's
 * retry policy: a done mark must outlive every retry copy of its message, or
 * a late copy would find the key forgotten and run the handler again.
 */
import type { Logger } from "pino";
import { z } from "zod";
import { ErrorCode } from "../errors.ts";
import { resolveLogger } from "../observability/logger.ts";
import { integer, resolveOptions } from "../options.ts";
import { retryTierFor } from "../topology/compile.ts";
import type { RetryPolicy } from "../topology/model.ts";
import { IdempotencyError } from "./errors.ts";
import type { GuardOutcome, IdempotencyStore, TimedIdempotencyGuard } from "./types.ts";

/** Defaults of {@link IdempotencyGuardOptions}. */
export const IDEMPOTENCY_DEFAULTS = Object.freeze({
  /**
   * How long a holder keeps a key before another consumer may take it over,
   * in milliseconds. Keep it above the handler's `timeoutMs`.
   * @default 60_000
   */
  leaseMs: 60_000,
  /**
   * How long a done key is remembered, in milliseconds. Must be at least the
   * sum of the queue's retry delays.
   * @default 86_400_000 (24 h)
   */
  retentionMs: 86_400_000,
});

/** The checks of the guard's timing; defaults from {@link IDEMPOTENCY_DEFAULTS}. */
const guardTimingSchema = z.object({
  leaseMs: integer(1).default(IDEMPOTENCY_DEFAULTS.leaseMs),
  retentionMs: integer(1).default(IDEMPOTENCY_DEFAULTS.retentionMs),
});

/** Options of {@link createIdempotencyGuard}. */
export interface IdempotencyGuardOptions<Store extends IdempotencyStore = IdempotencyStore> {
  /** Where keys, leases and done marks live. */
  store: Store;
  /** Lease length in milliseconds. @default 60_000 */
  leaseMs?: number;
  /** Retention of done keys in milliseconds. @default 86_400_000 */
  retentionMs?: number;
  /**
   * Where a failed release is logged (the consumer passes its own).
   * @default warren's default logger: `warn` to stderr
   */
  logger?: Logger;
}

/** Options checked against the topology and the handler timeout. */
export interface IdempotencyLimits {
  /** The queue's retry policy: `retentionMs` must outlive its retry path. */
  policy?: RetryPolicy | undefined;
  /** The handler timeout: `leaseMs` must be at least this long. */
  timeoutMs?: number | undefined;
}

/** Lease and retention after defaults and validation. */
export interface ResolvedGuardTiming {
  leaseMs: number;
  retentionMs: number;
}

/**
 * The longest time a message can spend waiting in retry tiers: the sum of
 * the delays of attempts 1 … maxAttempts − 1 (attempts past the last tier
 * reuse it), in milliseconds.
 */
export function retryPathMs(policy: RetryPolicy): number {
  let total = 0;
  for (let attempt = 1; attempt < policy.maxAttempts; attempt++) {
    total += retryTierFor(policy, attempt)?.delayMs ?? 0;
  }
  return total;
}

/**
 * Applies defaults and refuses timings that break the guarantee: a
 * retention window shorter than the retry path, or a lease shorter than the
 * handler timeout.
 */
export function resolveGuardTiming(
  options: { leaseMs?: number | undefined; retentionMs?: number | undefined },
  limits: IdempotencyLimits = {},
): ResolvedGuardTiming {
  const { leaseMs, retentionMs } = resolveOptions(guardTimingSchema, options, {
    context: "idempotency guard",
    prefix: "idempotency",
    errorClass: IdempotencyError,
  });
  const { policy, timeoutMs } = limits;
  if (policy !== undefined) {
    const pathMs = retryPathMs(policy);
    if (retentionMs < pathMs) {
      throw new IdempotencyError(
        ErrorCode.WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT,
        `idempotency.retentionMs (${retentionMs} ms) is shorter than the retry path of queue "${policy.queue}" (${pathMs} ms: the sum of its retry delays over ${policy.maxAttempts} attempts); a retry copy could arrive after its key is forgotten and run the handler twice. Set retentionMs to at least ${pathMs}, or leave it unset for the default of ${IDEMPOTENCY_DEFAULTS.retentionMs} ms`,
      );
    }
  }
  if (timeoutMs !== undefined && leaseMs < timeoutMs) {
    throw new IdempotencyError(
      ErrorCode.WARREN_IDEMPOTENCY_LEASE_TOO_SHORT,
      `idempotency.leaseMs (${leaseMs} ms) is shorter than the handler timeout (${timeoutMs} ms)${policy === undefined ? "" : ` of queue "${policy.queue}"`}; the lease could expire while the handler still runs and a second consumer would run it too. Set leaseMs to at least ${timeoutMs}`,
    );
  }
  return { leaseMs, retentionMs };
}

/** Rejection of a guarded run whose lease was taken over mid-work. */
export function leaseLostError(key: string): IdempotencyError {
  return new IdempotencyError(
    ErrorCode.WARREN_IDEMPOTENCY_LEASE_LOST,
    `idempotency key "${key}": the lease expired and was taken over before the handler finished, so it was not marked done; raise leaseMs above the handler's longest run`,
  );
}

/**
 * Releases the lease of a run that failed, so that the retry can take it at
 * once. A failed release must not hide the handler's error, but it must not
 * go unseen either: the key then stays leased until the lease expires, and
 * every copy arriving before that is sent back to the retry tier.
 */
export async function releaseAfterFailure(
  store: Pick<IdempotencyStore, "release">,
  key: string,
  token: string,
  leaseMs: number,
  logger: Logger,
): Promise<void> {
  try {
    await store.release(key, token);
  } catch (error) {
    logger.warn(
      { err: error, key, leaseMs },
      `idempotency key "${key}": releasing the lease after a failed run failed; the key stays leased for up to ${leaseMs} ms and copies arriving before then wait in the retry tier`,
    );
  }
}

/** The outcome of a key whose lease was not acquired: done, or held by another. */
export function notRun(begun: { status: "done" | "in-progress" }): GuardOutcome {
  return { status: begun.status === "done" ? "duplicate" : "in-progress" };
}

/**
 * Creates a guard over a store. `limits.policy` (the queue's retry policy)
 * validates the retention window; `limits.timeoutMs` validates the lease.
 *
 * @throws IdempotencyError `WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT`,
 *   `WARREN_IDEMPOTENCY_LEASE_TOO_SHORT`, `WARREN_INVALID_OPTIONS`
 */
export function createIdempotencyGuard(
  options: IdempotencyGuardOptions,
  limits: IdempotencyLimits = {},
): TimedIdempotencyGuard {
  const { store } = options;
  const { leaseMs, retentionMs } = resolveGuardTiming(options, limits);
  const logger = resolveLogger(options.logger);
  const scope: Record<string, never> = Object.freeze({});
  return {
    leaseMs,
    retentionMs,
    async run(key, work): Promise<GuardOutcome> {
      const begun = await store.begin(key, leaseMs);
      if (begun.status !== "acquired") return notRun(begun);
      try {
        await work(scope);
      } catch (error) {
        await releaseAfterFailure(store, key, begun.token, leaseMs, logger);
        throw error;
      }
      if (!(await store.complete(key, begun.token, retentionMs))) throw leaseLostError(key);
      return { status: "completed" };
    },
  };
}
