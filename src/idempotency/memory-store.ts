/**
 * An in-memory idempotency store: one process only, for tests and
 * development. Records live in a Map kept in write order, so the oldest
 * record is the first one iterated.
 *
 * The store is bounded. When a new key arrives at `maxKeys`, expired records
 * go first; if none has expired, the oldest done mark is forgotten (a later
 * copy of that message would run again, so size `maxKeys` above the number of
 * messages a retention window sees). Leases are never evicted: with every
 * slot leased, `begin` throws `WARREN_IDEMPOTENCY_STORE_FULL`.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ErrorCode } from "../errors.ts";
import { fn, integer, resolveOptions } from "../options.ts";
import { IdempotencyError } from "./errors.ts";
import type { BeginResult, IdempotencyStore } from "./types.ts";

/** Defaults of {@link MemoryIdempotencyStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = Object.freeze({
  /**
   * Most records kept at once (leases and done marks).
   * @default 100_000
   */
  maxKeys: 100_000,
});

const memoryStoreSchema = z.object({
  maxKeys: integer(1).default(MEMORY_STORE_DEFAULTS.maxKeys),
  now: fn<() => number>().default(() => Date.now),
});

/** Options of {@link createMemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** Most records kept at once. @default 100_000 */
  maxKeys?: number;
  /** Clock in epoch milliseconds; tests pass a fake one. @default Date.now */
  now?: () => number;
}

/** The in-memory store, with counters for tests and diagnostics. */
export interface MemoryIdempotencyStore extends IdempotencyStore {
  /** Records currently held, expired or not. */
  readonly size: number;
  /** Done marks forgotten before their retention ended, to make room. */
  readonly evictedBeforeExpiry: number;
}

interface KeyRecord {
  state: "leased" | "done";
  token: string;
  /** Lease expiry or end of retention, epoch milliseconds. */
  expiresAt: number;
}

/**
 * Creates an in-memory store.
 *
 * @throws IdempotencyError `WARREN_INVALID_OPTIONS` when
 *   `maxKeys` is not a positive integer.
 */
export function createMemoryIdempotencyStore(
  options: MemoryIdempotencyStoreOptions = {},
): MemoryIdempotencyStore {
  const { maxKeys, now } = resolveOptions(memoryStoreSchema, options, {
    context: "memory idempotency store",
    errorClass: IdempotencyError,
  });
  const records = new Map<string, KeyRecord>();
  // A lower bound on every record's expiry: no sweep can free anything
  // before it, so a full store does not rescan the map on every new key.
  let earliestExpiry = Number.POSITIVE_INFINITY;
  let evictedBeforeExpiry = 0;

  function write(key: string, record: KeyRecord): void {
    records.delete(key);
    records.set(key, record);
    earliestExpiry = Math.min(earliestExpiry, record.expiresAt);
  }

  function sweep(at: number): number {
    let removed = 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, record] of records) {
      if (record.expiresAt <= at) {
        records.delete(key);
        removed++;
      } else {
        earliest = Math.min(earliest, record.expiresAt);
      }
    }
    earliestExpiry = earliest;
    return removed;
  }

  function makeRoom(at: number): void {
    if (records.size < maxKeys) return;
    if (at >= earliestExpiry && sweep(at) > 0) return;
    for (const [key, record] of records) {
      if (record.state === "done") {
        records.delete(key);
        evictedBeforeExpiry++;
        return;
      }
    }
    throw new IdempotencyError(
      ErrorCode.WARREN_IDEMPOTENCY_STORE_FULL,
      `memory idempotency store: all ${maxKeys} keys hold live leases; raise maxKeys above the number of messages handled at once`,
    );
  }

  return {
    get size() {
      return records.size;
    },
    get evictedBeforeExpiry() {
      return evictedBeforeExpiry;
    },
    async begin(key, leaseMs): Promise<BeginResult> {
      const at = now();
      const current = records.get(key);
      if (current !== undefined && current.expiresAt > at) {
        return current.state === "done" ? { status: "done" } : { status: "in-progress" };
      }
      if (current === undefined) makeRoom(at);
      const token = randomUUID();
      write(key, { state: "leased", token, expiresAt: at + leaseMs });
      return { status: "acquired", token };
    },
    async complete(key, token, retentionMs) {
      const current = records.get(key);
      if (current === undefined || current.state !== "leased" || current.token !== token) {
        return false;
      }
      write(key, { state: "done", token, expiresAt: now() + retentionMs });
      return true;
    },
    async release(key, token) {
      const current = records.get(key);
      if (current?.state === "leased" && current.token === token) records.delete(key);
    },
    async purgeExpired() {
      return sweep(now());
    },
  };
}
