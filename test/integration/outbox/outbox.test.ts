/**
 * The outbox against the run's PostgreSQL and broker: a row is published
 * only when its transaction commits, once per messageId even with several
 * writers and relays, in insert order per ordering key, and a refused row is
 * retried and then kept as failed with its error.
 */

import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { main } from "../../../src/cli/main.ts";
import { connect, type Warren } from "../../../src/client.ts";
import { createPostgresOutbox } from "../../../src/outbox/outbox.ts";
import { defineMessages } from "../../../src/publisher/messages.ts";
import {
  collect,
  inTransaction,
  logger,
  newPool,
  ordersVhost,
  sleep,
  withOutboxTable,
} from "./support.ts";

const messages = defineMessages({
  "order.created": z.object({ orderId: z.string(), total: z.number().int() }),
  "order.step": z.object({ key: z.string(), seq: z.number().int() }),
});

/** Runs the CLI in this process (as bin/warren does), capturing its output. */
async function runCli(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { ...process.env, ...env },
  });
  return { code, stdout, stderr };
}

describe("transactional outbox", () => {
  const pool = newPool(12);
  let vhost: Awaited<ReturnType<typeof ordersVhost>>;
  const clients: Warren[] = [];

  beforeAll(async () => {
    vhost = await ordersVhost();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await vhost.close();
    await pool.end();
  });

  async function client(): Promise<Warren> {
    const warren = await connect({ url: vhost.url, logger, serviceName: "outbox-test" });
    clients.push(warren);
    return warren;
  }

  it("publishes nothing for a rolled-back transaction, and the committed one once", async () => {
    const { table, orders, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({ pool, table, messages, exchange: "orders" });
    const collector = await collect(vhost.url, vhost.queue);
    const relay = await outbox.startRelay(await client(), { pollIntervalMs: 100 });
    try {
      await expect(
        inTransaction(pool, async (db) => {
          await db.query(`INSERT INTO ${orders} VALUES ('rolled-back', 1)`);
          await outbox.publish(db, "order.created", { orderId: "rolled-back", total: 1 });
          throw new Error("payment declined");
        }),
      ).rejects.toThrow("payment declined");
      const kept = await inTransaction(pool, async (db) => {
        await db.query(`INSERT INTO ${orders} VALUES ('kept', 2)`);
        return outbox.publish(db, "order.created", { orderId: "kept", total: 2 });
      });
      await collector.waitForDistinct(1, 10_000);
      await sleep(500);
      expect([...collector.counts]).toEqual([[kept.messageId, 1]]);
      expect(collector.bodies).toEqual([{ orderId: "kept", total: 2 }]);
      const rows = await pool.query(`SELECT status FROM "${table}"`);
      expect(rows.rows).toEqual([{ status: "sent" }]);
    } finally {
      await relay.stop();
      await collector.close();
      await drop();
    }
  });

  it("refuses bad messages like publish does, and a client outside a transaction", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({
      pool,
      table,
      messages,
      exchange: "orders",
      maxBytes: 64,
    });
    try {
      await expect(
        inTransaction(pool, (db) => outbox.publish(db, "order.created", { orderId: 7 } as never)),
      ).rejects.toMatchObject({ code: "WARREN_PUBLISH_INVALID_PAYLOAD" });
      await expect(
        inTransaction(pool, (db) => outbox.publish(db, "order.unknown" as never, {} as never)),
      ).rejects.toMatchObject({ code: "WARREN_PUBLISH_INVALID_PAYLOAD" });
      await expect(
        inTransaction(pool, (db) =>
          outbox.publish(db, "order.created", { orderId: "x".repeat(100), total: 1 }),
        ),
      ).rejects.toMatchObject({ code: "WARREN_PUBLISH_TOO_LARGE" });
      await expect(
        outbox.publish(pool, "order.created", { orderId: "autocommit", total: 1 }),
      ).rejects.toMatchObject({ code: "WARREN_OUTBOX_NOT_IN_TRANSACTION" });
      const count = await pool.query(`SELECT count(*)::int AS n FROM "${table}"`);
      expect(count.rows[0].n).toBe(0);
      const missing = createPostgresOutbox({ pool, table: `${table}_missing` });
      await expect(
        inTransaction(pool, (db) => missing.publish(db, "order.created", {})),
      ).rejects.toMatchObject({ code: "WARREN_OUTBOX_TABLE_MISSING" });
    } finally {
      await drop();
    }
  });

  it("delivers 5,000 orders from 4 writers through 2 relays exactly once each", async () => {
    const { table, orders, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({ pool, table, messages, exchange: "orders" });
    const collector = await collect(vhost.url, vhost.queue);
    const registry = new Registry();
    const relays = await Promise.all([
      outbox.startRelay(await client(), { pollIntervalMs: 200, registry }),
      outbox.startRelay(await client(), { pollIntervalMs: 200, registry }),
    ]);
    const byRelay = [0, 0];
    for (const [i, relay] of relays.entries()) {
      relay.on("sent", (rows) => {
        byRelay[i]! += rows.length;
      });
    }
    try {
      const ids = new Set<string>();
      await Promise.all(
        [0, 1, 2, 3].map(async (writer) => {
          for (let i = 0; i < 1_250; i += 25) {
            await inTransaction(pool, async (db) => {
              for (let j = i; j < i + 25; j++) {
                const orderId = `w${writer}-${j}`;
                await db.query(`INSERT INTO ${orders} VALUES ($1, $2)`, [orderId, j]);
                ids.add(
                  (await outbox.publish(db, "order.created", { orderId, total: j })).messageId,
                );
              }
            });
          }
        }),
      );
      expect(ids.size).toBe(5_000);
      await collector.waitForDistinct(5_000, 150_000);
      await sleep(1_000);
      expect(collector.total()).toBe(5_000);
      expect([...collector.counts.keys()].every((id) => ids.has(id))).toBe(true);
      expect(byRelay[0]! + byRelay[1]!).toBe(5_000);
      expect(byRelay[0]).toBeGreaterThan(0);
      expect(byRelay[1]).toBeGreaterThan(0);
      const metrics = await registry.getSingleMetricAsString("warren_outbox_relayed_total");
      expect(metrics).toContain(`warren_outbox_relayed_total{table="${table}"} 5000`);
      const stats = await relays[0]!.refreshStats();
      expect(stats).toMatchObject({ pending: 0, failed: 0 });
      const lag = await registry.getSingleMetricAsString("warren_outbox_lag_seconds");
      expect(lag).toContain(`warren_outbox_lag_seconds_count{table="${table}"} 5000`);
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      await collector.close();
      await drop();
    }
  }, 240_000);

  it("publishes the rows of each ordering key in insert order across 2 relays", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({ pool, table, messages, exchange: "orders" });
    const collector = await collect(vhost.url, vhost.queue);
    const relays = await Promise.all([
      outbox.startRelay(await client(), {
        pollIntervalMs: 100,
        batchSize: 50,
        registry: new Registry(),
      }),
      outbox.startRelay(await client(), {
        pollIntervalMs: 100,
        batchSize: 50,
        registry: new Registry(),
      }),
    ]);
    try {
      const keys = ["a", "b", "c", "d"];
      await Promise.all(
        keys.map(async (key) => {
          for (let seq = 0; seq < 150; seq++) {
            await inTransaction(pool, (db) =>
              outbox.publish(db, "order.step", { key, seq }, { orderingKey: key }),
            );
          }
        }),
      );
      await collector.waitForDistinct(600, 120_000);
      for (const key of keys) {
        const seqs = (collector.bodies as { key: string; seq: number }[])
          .filter((body) => body.key === key)
          .map((body) => body.seq);
        expect(seqs).toEqual([...Array(150).keys()]);
      }
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      await collector.close();
      await drop();
    }
  }, 240_000);

  it("retries an unroutable row with backoff, then keeps it as failed with its error", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({ pool, table, exchange: "orders" });
    const registry = new Registry();
    const relay = await outbox.startRelay(await client(), {
      pollIntervalMs: 50,
      maxAttempts: 3,
      retryDelayMs: 100,
      registry,
    });
    const refusals: boolean[] = [];
    relay.on("refused", (_id, _error, failed) => refusals.push(failed));
    try {
      const row = await inTransaction(pool, (db) => outbox.publish(db, "nobody.listens", { n: 1 }));
      const deadline = Date.now() + 10_000;
      while (refusals.length < 3 && Date.now() < deadline) await sleep(50);
      expect(refusals).toEqual([false, false, true]);
      const failed = await outbox.listFailed();
      expect(failed.total).toBe(1);
      expect(failed.rows[0]).toMatchObject({
        messageId: row.messageId,
        routingKey: "nobody.listens",
        attempts: 3,
        bodyPreview: '{"n":1}',
      });
      expect(failed.rows[0]?.lastError).toMatch(/^WARREN_PUBLISH_UNROUTABLE: /);
      await relay.refreshStats();
      expect(await registry.getSingleMetricAsString("warren_outbox_failed")).toContain(
        `warren_outbox_failed{table="${table}"} 1`,
      );
      await sleep(300);
      expect(refusals).toHaveLength(3); // kept, not retried any more
      const status = await pool.query(`SELECT status FROM "${table}"`);
      expect(status.rows).toEqual([{ status: "failed" }]);

      const listed = await runCli(["outbox", "failed", "--table", table, "--json"]);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({
        ok: true,
        total: 1,
        rows: [{ messageId: row.messageId, attempts: 3, routingKey: "nobody.listens" }],
      });
      const human = await runCli(["outbox", "failed", "--table", table]);
      expect(human.stdout).toContain("1 failed outbox row:");
      expect(human.stdout).toContain("error: WARREN_PUBLISH_UNROUTABLE:");
      const noDatabase = await runCli(["outbox", "failed", "--table", table], {
        DATABASE_URL: undefined,
      });
      expect(noDatabase.code).toBe(1);
      expect(noDatabase.stderr).toContain("pass --database-url");
      const missing = await runCli(["outbox", "failed", "--table", `${table}_nope`, "--json"]);
      expect(missing.code).toBe(1);
      expect(JSON.parse(missing.stdout).error.code).toBe("WARREN_OUTBOX_TABLE_MISSING");
      await relay.stop(); // otherwise it takes the row again at once
      const retried = await runCli(["outbox", "retry", "--table", table, "--json"]);
      expect(JSON.parse(retried.stdout)).toEqual({ ok: true, retried: 1 });
      const again = await pool.query(`SELECT status, attempts FROM "${table}"`);
      expect(again.rows).toEqual([{ status: "pending", attempts: 0 }]);
    } finally {
      await relay.stop();
      await drop();
    }
  });

  it("deletes sent rows past their retention in batches", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const outbox = createPostgresOutbox({ pool, table, messages, exchange: "orders" });
    const collector = await collect(vhost.url, vhost.queue);
    const relay = await outbox.startRelay(await client(), {
      pollIntervalMs: 50,
      retentionMs: 200,
      cleanupBatchSize: 7,
      cleanupIntervalMs: 3_600_000,
      registry: new Registry(),
    });
    try {
      await inTransaction(pool, async (db) => {
        for (let i = 0; i < 30; i++)
          await outbox.publish(db, "order.created", { orderId: `r${i}`, total: i });
      });
      await collector.waitForDistinct(30, 10_000);
      await sleep(400);
      expect(await relay.cleanup()).toBe(30);
      const count = await pool.query(`SELECT count(*)::int AS n FROM "${table}"`);
      expect(count.rows[0].n).toBe(0);
    } finally {
      await relay.stop();
      await collector.close();
      await drop();
    }
  });
});
