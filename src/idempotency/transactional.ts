/**
 * The transactional PostgreSQL guard: the handler gets a client inside
 * BEGIN, and its own writes commit in the same transaction as the done mark.
 * Either both are in the database or neither is, so a process that dies
 * after COMMIT but before the ack leaves its side effect once, and the
 * redelivered copy finds the key done and is acked as a duplicate.
 *
 * The lease is still taken first, committed on its own, so a second
 * consumer holding a copy sees `in-progress` instead of blocking on a row
 * lock for the whole handler. Fencing happens inside the transaction: the
 * done mark is an UPDATE matched on the token; when the lease was taken over
 * it matches nothing and the whole transaction, handler writes included, is
 * rolled back.
 *
 * Round trips per message (issue #10): two besides the handler's own. The
 * lease, its COMMIT and the BEGIN go in one query; the done mark and the
 * COMMIT in another (postgres-store.ts). Commits: two, the minimum the
 * guarantee allows: the lease must be visible to other consumers before the
 * handler runs, and the done mark must commit with the handler's writes.
 */
import type { PoolClient } from "pg";
import type { Logger } from "pino";
import { resolveLogger } from "../observability/logger.ts";
import {
  type IdempotencyLimits,
  leaseLostError,
  notRun,
  releaseAfterFailure,
  resolveGuardTiming,
} from "./guard.ts";
import type { PostgresIdempotencyStore } from "./postgres-store.ts";
import type { GuardOutcome, TimedIdempotencyGuard, TransactionScope } from "./types.ts";

/** Options of {@link createTransactionalIdempotencyGuard}. */
export interface TransactionalGuardOptions {
  /** The PostgreSQL store whose pool runs the handler's transaction. */
  store: PostgresIdempotencyStore;
  /** Lease length in milliseconds. @default 60_000 */
  leaseMs?: number;
  /** Retention of done keys in milliseconds. @default 86_400_000 */
  retentionMs?: number;
  /**
   * Where a failed release is logged.
   * @default warren's default logger: `warn` to stderr
   */
  logger?: Logger;
}

/** A guard whose work receives `{ client }`, a pg client inside a transaction. */
export type TransactionalIdempotencyGuard = TimedIdempotencyGuard<TransactionScope<PoolClient>>;

/**
 * Creates the transactional guard. Use `scope.client` for every write that
 * must happen exactly once; do not COMMIT or ROLLBACK it yourself (throw to
 * roll back).
 *
 * @throws IdempotencyError as `createIdempotencyGuard` does.
 */
export function createTransactionalIdempotencyGuard(
  options: TransactionalGuardOptions,
  limits: IdempotencyLimits = {},
): TransactionalIdempotencyGuard {
  const { store } = options;
  const { leaseMs, retentionMs } = resolveGuardTiming(options, limits);
  const logger = resolveLogger(options.logger);
  return {
    leaseMs,
    retentionMs,
    async run(key, work): Promise<GuardOutcome> {
      const client = await store.pool.connect();
      let broken: unknown;
      let token: string | undefined;
      try {
        // One round trip: the lease (committed on its own) and BEGIN.
        const begun = await store.beginTransaction(client, key, leaseMs);
        if (begun.status !== "acquired") {
          await client.query("ROLLBACK");
          return notRun(begun);
        }
        token = begun.token;
        await work({ client });
        // One round trip: the fenced done mark and COMMIT.
        if (!(await store.commitDone(client, key, token, retentionMs))) throw leaseLostError(key);
        return { status: "completed" };
      } catch (error) {
        // After a failed COMMIT the outcome is unknown; the release below is
        // fenced on state = 'leased', so it cannot undo a done mark that did
        // commit.
        await client.query("ROLLBACK").catch((rollbackError: unknown) => {
          broken = rollbackError;
        });
        if (token !== undefined) {
          await releaseAfterFailure(store, key, token, leaseMs, logger);
        }
        throw error;
      } finally {
        // A connection whose ROLLBACK failed is discarded, not pooled.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
  };
}
