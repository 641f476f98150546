import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIdempotencyGuard } from "../../../src/idempotency/guard.ts";
import { migrateIdempotencyStore } from "../../../src/idempotency/migrate.ts";
import { createPostgresIdempotencyStore } from "../../../src/idempotency/postgres-store.ts";
import { sleep } from "../../support/wait.ts";
import { newPool, randomTable, withTable } from "./postgres.ts";

describe("PostgreSQL idempotency store", () => {
  const pool = newPool();
  const other = newPool();
  let table: string;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ table, drop } = await withTable(pool));
  });
  afterAll(async () => {
    await drop();
    await Promise.all([pool.end(), other.end()]);
  });

  it("leases a key once, then reports it in progress, then done after complete", async () => {
    const store = createPostgresIdempotencyStore({ pool, table });
    const begun = await store.begin("a", 10_000);
    if (begun.status !== "acquired") throw new Error("not acquired");
    expect(await store.begin("a", 10_000)).toEqual({ status: "in-progress" });
    expect(await store.complete("a", begun.token, 60_000)).toBe(true);
    expect(await store.begin("a", 10_000)).toEqual({ status: "done" });
  });

  it("forgets a done key when its retention ends", async () => {
    const store = createPostgresIdempotencyStore({ pool, table });
    const begun = await store.begin("short", 10_000);
    if (begun.status !== "acquired") throw new Error("not acquired");
    await store.complete("short", begun.token, 150);
    expect(await store.begin("short", 10_000)).toEqual({ status: "done" });
    await sleep(200);
    expect((await store.begin("short", 10_000)).status).toBe("acquired");
  });

  it("lets a retry take a released key at once", async () => {
    const store = createPostgresIdempotencyStore({ pool, table });
    const begun = await store.begin("rel", 60_000);
    if (begun.status !== "acquired") throw new Error("not acquired");
    await store.release("rel", begun.token);
    expect((await store.begin("rel", 60_000)).status).toBe("acquired");
  });

  it("refuses the late complete of a holder whose expired lease another pool took over", async () => {
    const first = createPostgresIdempotencyStore({ pool, table });
    const second = createPostgresIdempotencyStore({ pool: other, table });
    const old = await first.begin("fenced", 150);
    if (old.status !== "acquired") throw new Error("not acquired");
    expect(await second.begin("fenced", 150)).toEqual({ status: "in-progress" });
    await sleep(200);
    const taker = await second.begin("fenced", 60_000);
    if (taker.status !== "acquired") throw new Error("not taken over");
    expect(await first.complete("fenced", old.token, 60_000)).toBe(false);
    await first.release("fenced", old.token); // a no-op: it holds nothing
    expect(await first.begin("fenced", 60_000)).toEqual({ status: "in-progress" });
    expect(await second.complete("fenced", taker.token, 60_000)).toBe(true);
    expect(await first.begin("fenced", 60_000)).toEqual({ status: "done" });
  });

  it("gives each key to exactly one of two pools racing for it", async () => {
    const stores = [pool, other].map((p) => createPostgresIdempotencyStore({ pool: p, table }));
    const keys = Array.from({ length: 100 }, (_, i) => `race-${i}`);
    const results = await Promise.all(
      keys.flatMap((key) => stores.map((store) => store.begin(key, 60_000))),
    );
    const acquired = results.filter((r) => r.status === "acquired").length;
    expect(acquired).toBe(keys.length);
    expect(results.filter((r) => r.status === "in-progress")).toHaveLength(keys.length);
  });

  it("runs guarded work once across two pools given the same keys at once", async () => {
    const guards = [pool, other].map((p) =>
      createIdempotencyGuard({ store: createPostgresIdempotencyStore({ pool: p, table }) }),
    );
    const ran = new Map<string, number>();
    const work = (key: string) => async () => {
      ran.set(key, (ran.get(key) ?? 0) + 1);
      await sleep(5);
    };
    const keys = Array.from({ length: 30 }, (_, i) => `guarded-${i}`);
    const outcomes = await Promise.all(
      keys.flatMap((key) => guards.map((guard) => guard.run(key, work(key)))),
    );
    expect([...ran.values()].every((n) => n === 1)).toBe(true);
    expect(ran.size).toBe(keys.length);
    expect(outcomes.filter((o) => o.status === "completed")).toHaveLength(keys.length);
    // Afterwards every copy is a duplicate.
    expect(await guards[0]!.run("guarded-0", work("guarded-0"))).toEqual({ status: "duplicate" });
  });

  it("purges expired done keys and leases in batches, keeping live ones", async () => {
    const purgePool = newPool(1);
    const { table: purgeTable, drop: dropPurge } = await withTable(purgePool);
    try {
      const store = createPostgresIdempotencyStore({
        pool: purgePool,
        table: purgeTable,
        purgeBatchSize: 2,
      });
      for (const key of ["d1", "d2", "d3"]) {
        const begun = await store.begin(key, 10_000);
        if (begun.status === "acquired") await store.complete(key, begun.token, 50);
      }
      await store.begin("expired-lease", 50);
      await store.begin("live-lease", 60_000);
      await sleep(100);
      expect(await store.purgeExpired()).toBe(4);
      const { rows } = await purgePool.query(`SELECT key FROM "${purgeTable}"`);
      expect(rows.map((r) => r.key)).toEqual(["live-lease"]);
    } finally {
      await dropPurge();
      await purgePool.end();
    }
  });

  it("says to run the migration when the table does not exist", async () => {
    const store = createPostgresIdempotencyStore({ pool, table: randomTable() });
    await expect(store.begin("x", 1_000)).rejects.toMatchObject({
      code: "WARREN_IDEMPOTENCY_TABLE_MISSING",
      message: expect.stringContaining("migrateIdempotencyStore"),
    });
  });

  it("migrates idempotently, from several processes at once", async () => {
    const name = randomTable();
    try {
      await Promise.all([
        migrateIdempotencyStore(pool, { table: name }),
        migrateIdempotencyStore(other, { table: name }),
      ]);
      await migrateIdempotencyStore(pool, { table: name });
      const { rows } = await pool.query(
        "SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
        [name],
      );
      expect(rows.map((r) => r.indexname)).toEqual([`${name}_expires_at_idx`, `${name}_pkey`]);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${name}"`);
    }
  });
});
