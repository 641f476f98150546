/**
 * Crash safety: a relay process (`warren outbox relay`) SIGKILLed after the
 * broker confirmed a batch and before it marked the rows sent. To land the
 * kill in exactly that window, the test holds `LOCK TABLE ... IN SHARE MODE`:
 * the relay can still claim rows (FOR UPDATE takes ROW SHARE) and publish
 * them, but its UPDATE waits for the lock. Another relay then publishes the
 * batch again with the same messageIds, and a consumer with the
 * transactional idempotency guard runs each order once.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { migrateIdempotencyStore } from "../../../src/idempotency/migrate.ts";
import { createPostgresIdempotencyStore } from "../../../src/idempotency/postgres-store.ts";
import { createTransactionalIdempotencyGuard } from "../../../src/idempotency/transactional.ts";
import { createPostgresOutbox } from "../../../src/outbox/outbox.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { parseTopology } from "../../../src/topology/load.ts";
import { databaseUrl } from "../../support/postgres.ts";
import { createVhost, type TestVhost } from "../publisher/support.ts";
import { collect, inTransaction, logger, newPool, sleep, withOutboxTable } from "./support.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const ROWS = 120;
const BATCH = 40;

describe("a relay killed between the broker's confirm and its mark", () => {
  const pool = newPool(6);
  let vhost: TestVhost;
  let warren: Warren | undefined;

  beforeAll(async () => {
    vhost = await createVhost();
  });
  afterAll(async () => {
    await warren?.close();
    await vhost.close();
    await pool.end();
  });

  it("publishes at most one extra copy per row, which the guarded consumer suppresses", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const idempotencyTable = `${table}_idem`;
    await migrateIdempotencyStore(pool, { table: idempotencyTable });
    await pool.query(`CREATE TABLE "${table}_effects" (order_id text NOT NULL)`);
    const topology = parseTopology(
      `vhost: ${vhost.name}\nexchanges: { orders: { type: topic } }\nqueues:\n  fulfil:\n    bindings: [{ exchange: orders, routingKey: "order.*" }]\n  audit:\n    type: classic\n    bindings: [{ exchange: orders, routingKey: "order.*" }]\n`,
      { fileName: "crash.yaml" },
    );
    const managementUrl = process.env.RABBITMQ_MANAGEMENT_URL as string;
    await applyTopology(compileTopology(topology), { url: vhost.url, managementUrl });
    const outbox = createPostgresOutbox({ pool, table, exchange: "orders" });
    const relayArgs = () => [
      "src/cli/run.ts",
      "outbox",
      "relay",
      "--url",
      vhost.url,
      "--database-url",
      databaseUrl(),
      "--table",
      table,
      "--batch-size",
      String(BATCH),
      "--poll-interval-ms",
      "200",
    ];
    const audit = await collect(vhost.url, "audit");
    const lock = await pool.connect();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      await inTransaction(pool, async (db) => {
        for (let i = 0; i < ROWS; i++)
          await outbox.publish(db, "order.created", { orderId: `o${i}` });
      });
      await lock.query("BEGIN");
      await lock.query(`LOCK TABLE "${table}" IN SHARE MODE`);
      child = spawn(process.execPath, relayArgs(), {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
      });
      // The first batch is confirmed; its mark now waits for our lock.
      await audit.waitForDistinct(BATCH, 90_000).catch((error) => {
        throw new Error(`${error.message}; relay stderr: ${stderr}`);
      });
      await sleep(300);
      expect(audit.counts.size).toBe(BATCH);
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      await lock.query("COMMIT");

      warren = await connect({ url: vhost.url, topology, logger });
      // The second relay is the CLI again, stopped gracefully at the end.
      const second = spawn(process.execPath, relayArgs(), {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let secondOut = "";
      second.stdout?.on("data", (chunk) => {
        secondOut += chunk;
      });
      const secondExit = new Promise<number | null>((resolve) => second.once("exit", resolve));
      const guard = createTransactionalIdempotencyGuard({
        store: createPostgresIdempotencyStore({ pool, table: idempotencyTable }),
      });
      const consumer = await warren.consume<{ orderId: string }>(
        "fulfil",
        async (order, ctx) => {
          const { client } = ctx.scope as { client: import("pg").PoolClient };
          await client.query(`INSERT INTO "${table}_effects" VALUES ($1)`, [order.orderId]);
        },
        { idempotency: { guard }, prefetch: 20, concurrency: 2 },
      );
      try {
        await audit.waitForDistinct(ROWS, 90_000);
        const deadline = Date.now() + 90_000;
        const effects = async () =>
          (await pool.query(`SELECT count(*)::int AS n FROM "${table}_effects"`)).rows[0].n;
        while ((await effects()) < ROWS && Date.now() < deadline) await sleep(100);
        await sleep(1_000);
        const copies = [...audit.counts.values()];
        expect(copies.every((n) => n <= 2)).toBe(true);
        expect(copies.filter((n) => n === 2)).toHaveLength(BATCH);
        expect(audit.total()).toBe(ROWS + BATCH);
        expect(await effects()).toBe(ROWS);
        const distinct = await pool.query(
          `SELECT count(DISTINCT order_id)::int AS n FROM "${table}_effects"`,
        );
        expect(distinct.rows[0].n).toBe(ROWS);
        const duplicates = await warren.metrics.messagesConsumed.get();
        const suppressed = duplicates.values.find((v) => v.labels.outcome === "duplicate");
        expect(suppressed?.value).toBe(BATCH);
        second.kill("SIGTERM");
        expect(await secondExit).toBe(0);
        expect(secondOut).toContain(`Relaying outbox table "${table}"`);
        // All 120: the 40 that were confirmed but never marked, and the rest.
        expect(secondOut).toContain(`Stopped after relaying ${ROWS} rows.`);
      } finally {
        if (second.exitCode === null && second.signalCode === null) second.kill("SIGKILL");
        await consumer.close();
      }
    } finally {
      if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await lock.query("ROLLBACK").catch(() => {});
      lock.release();
      await audit.close();
      await drop();
      await pool.query(`DROP TABLE IF EXISTS "${idempotencyTable}", "${table}_effects"`);
    }
  }, 240_000);
});
