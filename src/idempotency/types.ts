/**
 * The contract between the consumer runtime and an idempotency guard
 * (DESIGN.md §6). The runtime asks the guard to run a handler at most once
 * per key; the guard answers with what happened, and the runtime maps that to
 * ack / retry tier exactly as the outcome table says.
 */

/** Result of {@link IdempotencyStore.begin}. */
export type BeginResult =
  | { status: "acquired"; token: string }
  | { status: "done" }
  | { status: "in-progress" };

/** A store of idempotency keys with leases (DESIGN.md §6). */
export interface IdempotencyStore {
  /** Takes the key's lease for `leaseMs`, unless done or leased by another holder. */
  begin(key: string, leaseMs: number): Promise<BeginResult>;
  /**
   * Marks the key done, fenced by `token`: resolves false (and marks nothing)
   * when the lease was taken over by another holder.
   */
  complete(key: string, token: string, retentionMs: number): Promise<boolean>;
  /** Gives the lease up after a failure so a retry can take it. */
  release(key: string, token: string): Promise<void>;
}

/** What a guarded run came to. */
export type GuardOutcome =
  /** The work ran and the key is now done. */
  | { status: "completed" }
  /** The key was already done: the work was not run. */
  | { status: "duplicate" }
  /** Another holder has the lease: the work was not run. */
  | { status: "in-progress" };

/**
 * Runs work at most once per key. `work` receives a scope: empty for plain
 * stores; for a transactional store it carries the transaction the handler's
 * own writes must use. When `work` throws, the lease is released and the
 * error is rethrown (the runtime then takes its normal retry path).
 */
export interface IdempotencyGuard<Scope = Record<string, never>> {
  run(key: string, work: (scope: Scope) => Promise<void>): Promise<GuardOutcome>;
}
