/**
 * The contract between the consumer runtime and an idempotency guard
 * (docs/architecture.md#idempotency-leases). The runtime asks the guard to run a handler at most once
 * per key; the guard answers with what happened, and the runtime maps that to
 * ack / retry tier exactly as the outcome table says.
 *
 * A store keeps one record per key: a lease (held by one holder, identified
 * by a fencing token, until it expires) or a done mark (kept for a retention
 * window, then forgotten). Expired records count as absent.
 */

/** Result of {@link IdempotencyStore.begin}. */
export type BeginResult =
  /** The caller holds the lease; `token` fences its `complete` and `release`. */
  | { status: "acquired"; token: string }
  /** The key was completed within its retention window. */
  | { status: "done" }
  /** Another holder has an unexpired lease on the key. */
  | { status: "in-progress" };

/** A store of idempotency keys with leases (docs/architecture.md#idempotency-leases). */
export interface IdempotencyStore {
  /**
   * Takes the key's lease for `leaseMs`, unless the key is done or leased by
   * another holder. An expired lease is taken over: its holder's token stops
   * being valid.
   */
  begin(key: string, leaseMs: number): Promise<BeginResult>;
  /**
   * Marks the key done for `retentionMs`, fenced by `token`: resolves false
   * (and marks nothing) when the lease was taken over by another holder.
   */
  complete(key: string, token: string, retentionMs: number): Promise<boolean>;
  /**
   * Gives the lease up after a failure so a retry can take it at once. A
   * no-op when the token no longer holds the lease.
   */
  release(key: string, token: string): Promise<void>;
  /**
   * Deletes expired records (done marks past their retention, leases past
   * their expiry) and resolves with how many were deleted.
   */
  purgeExpired(): Promise<number>;
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
 * error is rethrown (the runtime then takes its normal retry path). When the
 * lease was lost before the work finished, `run` rejects with an
 * `IdempotencyError` coded `WARREN_IDEMPOTENCY_LEASE_LOST`.
 */
export interface IdempotencyGuard<Scope = Record<string, never>> {
  run(key: string, work: (scope: Scope) => Promise<void>): Promise<GuardOutcome>;
}

/**
 * A guard that tells its lease and retention, so the consumer can check them
 * against the queue's retry policy and handler timeout when it starts.
 */
export interface TimedIdempotencyGuard<Scope = Record<string, never>>
  extends IdempotencyGuard<Scope> {
  /** Lease length in milliseconds. */
  readonly leaseMs: number;
  /** Retention of done keys in milliseconds. */
  readonly retentionMs: number;
}

/** The scope a transactional guard hands to the work: a client inside BEGIN. */
export interface TransactionScope<Client> {
  /** Use this client for every write that must commit with the done mark. */
  client: Client;
}
