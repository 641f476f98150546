import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresIdempotencyStore } from "../../../src/idempotency/postgres-store.ts";
import { createTransactionalIdempotencyGuard } from "../../../src/idempotency/transactional.ts";
import { sleep } from "../../support/wait.ts";
import { newPool, withTable } from "./postgres.ts";

describe("transactional PostgreSQL idempotency guard", () => {
  const pool = newPool();
  let table: string;
  let effects: string;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ table, drop } = await withTable(pool));
    effects = `"${table}_effects"`;
  });
  afterAll(async () => {
    await drop();
    await pool.end();
  });

  const effectRows = async (key: string) =>
    Number(
      (await pool.query(`SELECT count(*) FROM ${effects} WHERE key = $1`, [key])).rows[0].count,
    );
  const state = async (key: string) =>
    (await pool.query(`SELECT state FROM "${table}" WHERE key = $1`, [key])).rows[0]?.state;

  it("commits the handler's writes with the done mark, and skips duplicates", async () => {
    const guard = createTransactionalIdempotencyGuard({
      store: createPostgresIdempotencyStore({ pool, table }),
    });
    const write = async ({ client }: { client: import("pg").PoolClient }) => {
      await client.query(`INSERT INTO ${effects} (key) VALUES ('ok')`);
    };
    expect(await guard.run("ok", write)).toEqual({ status: "completed" });
    expect(await guard.run("ok", write)).toEqual({ status: "duplicate" });
    expect(await effectRows("ok")).toBe(1);
    expect(await state("ok")).toBe("done");
  });

  it("rolls back the handler's writes and frees the key when the handler throws", async () => {
    const guard = createTransactionalIdempotencyGuard({
      store: createPostgresIdempotencyStore({ pool, table }),
    });
    const boom = new Error("boom");
    await expect(
      guard.run("fails", async ({ client }) => {
        await client.query(`INSERT INTO ${effects} (key) VALUES ('fails')`);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await effectRows("fails")).toBe(0);
    expect(await state("fails")).toBeUndefined();
  });

  it("rolls back the writes of a holder whose lease was taken over, keeping the taker's", async () => {
    const store = createPostgresIdempotencyStore({ pool, table });
    const slow = createTransactionalIdempotencyGuard({ store, leaseMs: 150 });
    const fast = createTransactionalIdempotencyGuard({ store });
    const insert = async (client: import("pg").PoolClient, who: string) =>
      client.query(`INSERT INTO ${effects} (key) VALUES ($1)`, [`fenced-${who}`]);
    const late = slow.run("fenced", async ({ client }) => {
      await insert(client, "slow");
      await sleep(300);
    });
    await sleep(200);
    expect(
      await fast.run("fenced", async ({ client }) => void (await insert(client, "fast"))),
    ).toEqual({
      status: "completed",
    });
    await expect(late).rejects.toMatchObject({ code: "WARREN_IDEMPOTENCY_LEASE_LOST" });
    expect(await effectRows("fenced-slow")).toBe(0);
    expect(await effectRows("fenced-fast")).toBe(1);
  });

  it("returns every connection to the pool", async () => {
    const guard = createTransactionalIdempotencyGuard({
      store: createPostgresIdempotencyStore({ pool, table }),
    });
    for (let i = 0; i < 10; i++) {
      await guard.run(`pool-${i}`, async () => {}).catch(() => undefined);
      await guard.run(`pool-${i}`, async () => {});
      await guard
        .run(`boom-${i}`, async () => Promise.reject(new Error("x")))
        .catch(() => undefined);
    }
    expect(pool.waitingCount).toBe(0);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });
});
