import { describe, expect, it } from "vitest";
import { createMemoryIdempotencyStore } from "../../../src/idempotency/memory-store.ts";

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("in-memory idempotency store", () => {
  it("leases a new key, then reports it in progress to everyone else", async () => {
    const store = createMemoryIdempotencyStore();
    const first = await store.begin("k", 1_000);
    expect(first.status).toBe("acquired");
    expect(await store.begin("k", 1_000)).toEqual({ status: "in-progress" });
  });

  it("reports a completed key as done until its retention ends, then forgets it", async () => {
    const clock = fakeClock();
    const store = createMemoryIdempotencyStore({ now: clock.now });
    const begun = await store.begin("k", 1_000);
    if (begun.status !== "acquired") throw new Error("not acquired");
    expect(await store.complete("k", begun.token, 5_000)).toBe(true);
    clock.advance(4_999);
    expect(await store.begin("k", 1_000)).toEqual({ status: "done" });
    clock.advance(1);
    expect((await store.begin("k", 1_000)).status).toBe("acquired");
  });

  it("lets a retry take a released key at once", async () => {
    const store = createMemoryIdempotencyStore();
    const begun = await store.begin("k", 60_000);
    if (begun.status !== "acquired") throw new Error("not acquired");
    await store.release("k", begun.token);
    expect((await store.begin("k", 60_000)).status).toBe("acquired");
  });

  it("refuses a late complete from a holder whose expired lease was taken over", async () => {
    const clock = fakeClock();
    const store = createMemoryIdempotencyStore({ now: clock.now });
    const old = await store.begin("k", 1_000);
    clock.advance(1_000);
    const taker = await store.begin("k", 1_000);
    if (old.status !== "acquired" || taker.status !== "acquired") throw new Error("not acquired");
    expect(await store.complete("k", old.token, 60_000)).toBe(false);
    await store.release("k", old.token);
    expect(await store.begin("k", 1_000)).toEqual({ status: "in-progress" });
    expect(await store.complete("k", taker.token, 60_000)).toBe(true);
    expect(await store.begin("k", 1_000)).toEqual({ status: "done" });
  });

  it("evicts expired keys first, then the oldest done key, and never a live lease", async () => {
    const clock = fakeClock();
    const store = createMemoryIdempotencyStore({ maxKeys: 3, now: clock.now });
    const done = async (key: string, retentionMs: number) => {
      const begun = await store.begin(key, 1_000);
      if (begun.status !== "acquired") throw new Error("not acquired");
      await store.complete(key, begun.token, retentionMs);
    };
    await done("short", 10);
    await done("long-a", 60_000);
    await done("long-b", 60_000);
    clock.advance(10);
    await store.begin("new-1", 1_000); // room made by the expired "short"
    expect(store.evictedBeforeExpiry).toBe(0);
    expect(await store.begin("long-a", 1_000)).toEqual({ status: "done" });
    await store.begin("new-2", 1_000); // nothing expired: oldest done ("long-a") goes
    expect(store.evictedBeforeExpiry).toBe(1);
    expect(await store.begin("long-b", 1_000)).toEqual({ status: "done" });
    expect(store.size).toBe(3);
  });

  it("throws WARREN_IDEMPOTENCY_STORE_FULL when every slot is a live lease", async () => {
    const store = createMemoryIdempotencyStore({ maxKeys: 2 });
    await store.begin("a", 60_000);
    await store.begin("b", 60_000);
    await expect(store.begin("c", 60_000)).rejects.toMatchObject({
      code: "WARREN_IDEMPOTENCY_STORE_FULL",
    });
  });

  it("purges expired leases and done keys", async () => {
    const clock = fakeClock();
    const store = createMemoryIdempotencyStore({ now: clock.now });
    await store.begin("lease", 100);
    const begun = await store.begin("done", 100);
    if (begun.status !== "acquired") throw new Error("not acquired");
    await store.complete("done", begun.token, 200);
    await store.begin("live", 10_000);
    clock.advance(200);
    expect(await store.purgeExpired()).toBe(2);
    expect(store.size).toBe(1);
  });

  it("refuses a maxKeys that is not a positive integer", () => {
    expect(() => createMemoryIdempotencyStore({ maxKeys: 0 })).toThrow(
      expect.objectContaining({ code: "WARREN_INVALID_OPTIONS" }),
    );
  });
});
