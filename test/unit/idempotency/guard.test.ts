import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { idempotencyKeyOf, resolveIdempotencyGuard } from "../../../src/consumer/idempotency.ts";
import { NonRetryableError } from "../../../src/errors.ts";
import {
  createIdempotencyGuard,
  IDEMPOTENCY_DEFAULTS,
  retryPathMs,
} from "../../../src/idempotency/guard.ts";
import { createMemoryIdempotencyStore } from "../../../src/idempotency/memory-store.ts";
import type { IdempotencyStore } from "../../../src/idempotency/types.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

const policy: RetryPolicy = {
  queue: "orders.fulfil",
  maxAttempts: 4,
  tiers: [
    { delayMs: 1_000, queue: "orders.fulfil.retry.1s" },
    { delayMs: 10_000, queue: "orders.fulfil.retry.10s" },
    { delayMs: 60_000, queue: "orders.fulfil.retry.1m" },
  ],
  deadLetterQueue: "orders.fulfil.dlq",
};

describe("idempotency guard", () => {
  it("runs the work once and reports later runs of the key as duplicates", async () => {
    const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore() });
    const work = vi.fn(async () => {});
    expect(await guard.run("m-1", work)).toEqual({ status: "completed" });
    expect(await guard.run("m-1", work)).toEqual({ status: "duplicate" });
    expect(await guard.run("m-1", work)).toEqual({ status: "duplicate" });
    expect(work).toHaveBeenCalledTimes(1);
  });

  it("reports in-progress without running the work while another run holds the key", async () => {
    const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore() });
    let finish!: () => void;
    const first = guard.run("m-1", () => new Promise<void>((resolve) => (finish = resolve)));
    const second = vi.fn(async () => {});
    expect(await guard.run("m-1", second)).toEqual({ status: "in-progress" });
    finish();
    expect(await first).toEqual({ status: "completed" });
    expect(second).not.toHaveBeenCalled();
  });

  it("releases the key and rethrows when the work fails, so the retry runs it", async () => {
    const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore() });
    const boom = new Error("boom");
    await expect(guard.run("m-1", async () => Promise.reject(boom))).rejects.toBe(boom);
    const retry = vi.fn(async () => {});
    expect(await guard.run("m-1", retry)).toEqual({ status: "completed" });
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it("rethrows the work's error even when the release fails, and logs the failed release", async () => {
    const store = createMemoryIdempotencyStore();
    const failing: IdempotencyStore = {
      ...store,
      begin: (k, l) => store.begin(k, l),
      release: async () => Promise.reject(new Error("store down")),
    };
    const warnings: { msg: string; key?: string; err?: { message: string } }[] = [];
    const logger = pino(
      { level: "warn" },
      { write: (line: string) => warnings.push(JSON.parse(line)) },
    );
    const guard = createIdempotencyGuard({ store: failing, leaseMs: 5_000, logger });
    const boom = new Error("boom");
    await expect(guard.run("m-1", async () => Promise.reject(boom))).rejects.toBe(boom);
    // ... and says so: the key stays leased until the lease runs out.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ key: "m-1", err: { message: "store down" } });
    expect(warnings[0]?.msg).toContain("stays leased for up to 5000 ms");
  });

  it("rejects with WARREN_IDEMPOTENCY_LEASE_LOST when the lease was taken over mid-work", async () => {
    let now = 0;
    const store = createMemoryIdempotencyStore({ now: () => now });
    const guard = createIdempotencyGuard({ store, leaseMs: 1_000 });
    const run = guard.run("m-1", async () => {
      now += 1_500;
      expect((await store.begin("m-1", 1_000)).status).toBe("acquired");
    });
    await expect(run).rejects.toMatchObject({ code: "WARREN_IDEMPOTENCY_LEASE_LOST" });
  });

  it("sums the retry delays over maxAttempts − 1 retries, reusing the last tier", () => {
    expect(retryPathMs(policy)).toBe(71_000);
    expect(retryPathMs({ ...policy, maxAttempts: 6 })).toBe(191_000);
    expect(retryPathMs({ ...policy, maxAttempts: 1 })).toBe(0);
    expect(retryPathMs({ ...policy, tiers: [] })).toBe(0);
  });

  it("refuses a retention window shorter than the queue's retry path", () => {
    const store = createMemoryIdempotencyStore();
    expect(() => createIdempotencyGuard({ store, retentionMs: 70_999 }, { policy })).toThrow(
      expect.objectContaining({
        code: "WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT",
        message: expect.stringContaining('queue "orders.fulfil" (71000 ms'),
      }),
    );
    expect(createIdempotencyGuard({ store, retentionMs: 71_000 }, { policy }).retentionMs).toBe(
      71_000,
    );
  });

  it("refuses a lease shorter than the handler timeout, and non-positive timings", () => {
    const store = createMemoryIdempotencyStore();
    expect(() => createIdempotencyGuard({ store, leaseMs: 5_000 }, { timeoutMs: 30_000 })).toThrow(
      expect.objectContaining({ code: "WARREN_IDEMPOTENCY_LEASE_TOO_SHORT" }),
    );
    expect(() => createIdempotencyGuard({ store, leaseMs: 0 })).toThrow(
      expect.objectContaining({ code: "WARREN_INVALID_OPTIONS" }),
    );
  });

  it("defaults to a 60 s lease and a 24 h retention", () => {
    const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore() }, { policy });
    expect(guard.leaseMs).toBe(IDEMPOTENCY_DEFAULTS.leaseMs);
    expect(guard.retentionMs).toBe(86_400_000);
  });
});

describe("consumer idempotency option", () => {
  const queue = { policy, timeoutMs: 30_000 };

  it("builds a guard from { store, leaseMs, retentionMs }", async () => {
    const guard = resolveIdempotencyGuard(
      { store: createMemoryIdempotencyStore(), leaseMs: 30_000, retentionMs: 100_000 },
      queue,
    );
    const work = vi.fn(async () => {});
    await guard.run("k", work);
    expect(await guard.run("k", work)).toEqual({ status: "duplicate" });
  });

  it("refuses a store option whose retention is shorter than the retry path", () => {
    expect(() =>
      resolveIdempotencyGuard({ store: createMemoryIdempotencyStore(), retentionMs: 1_000 }, queue),
    ).toThrow(expect.objectContaining({ code: "WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT" }));
  });

  it("checks a ready-made guard's timing against the queue too", () => {
    const guard = createIdempotencyGuard({
      store: createMemoryIdempotencyStore(),
      retentionMs: 1_000,
    });
    expect(() => resolveIdempotencyGuard({ guard }, queue)).toThrow(
      expect.objectContaining({ code: "WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT" }),
    );
  });

  it("ignores the lease check when the handler has no timeout", () => {
    const store = createMemoryIdempotencyStore();
    expect(() =>
      resolveIdempotencyGuard({ store, leaseMs: 1 }, { policy, timeoutMs: 0 }),
    ).not.toThrow();
  });
});

describe("idempotency key of a message", () => {
  it("defaults to the messageId and prefers a business key function", () => {
    expect(idempotencyKeyOf(undefined, { orderId: "o-1" }, { messageId: "m-1" })).toBe("m-1");
    const byOrder = (message: { orderId: string }) => `order:${message.orderId}`;
    expect(idempotencyKeyOf(byOrder, { orderId: "o-1" }, { messageId: "m-1" })).toBe("order:o-1");
  });

  it("refuses a message without a key, as non-retryable, with WARREN_IDEMPOTENCY_KEY_MISSING", () => {
    let thrown: unknown;
    try {
      idempotencyKeyOf(undefined, {}, { messageId: undefined });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NonRetryableError);
    expect((thrown as Error).cause).toMatchObject({ code: "WARREN_IDEMPOTENCY_KEY_MISSING" });
    expect(() => idempotencyKeyOf(() => "", {}, { messageId: "m-1" })).toThrow(NonRetryableError);
  });
});
