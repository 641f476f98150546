/**
 * PostgreSQL stops in the middle of a request's transaction: a throwaway
 * server of this test's own is shut down (fast shutdown, as an operator or
 * a crash would), then started again on the same data. `outbox.publish`
 * fails with a clear error, a relay refuses to start with one, and after
 * the restart neither the order nor its outbox row exists.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../../src/client.ts";
import { migrateOutbox } from "../../../src/outbox/migrate.ts";
import { createPostgresOutbox } from "../../../src/outbox/outbox.ts";
import {
  findPostgresBinDir,
  type LocalPostgres,
  startLocalPostgres,
} from "../../../src/testing/postgres.ts";
import { type ServerProcess, startServerProcess, waitUntil } from "../../../src/testing/process.ts";
import { brokerUrls } from "../../support/broker.ts";
import { logger, newPool } from "./support.ts";

describe("outbox.publish with PostgreSQL stopped", () => {
  let server: LocalPostgres;
  let restarted: ServerProcess | undefined;
  let binDir: string;

  beforeAll(async () => {
    const found = await findPostgresBinDir(process.env);
    if (found === undefined) throw new Error("PostgreSQL is not installed (initdb/postgres)");
    binDir = found;
    server = await startLocalPostgres({
      binDir,
      env: process.env,
      startTimeoutMs: 60_000,
      stopTimeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    await restarted?.stop("SIGINT", 10_000);
    await server?.stop();
  });

  /** Starts `postgres` again on the stopped server's data dir and port. */
  async function restart(): Promise<void> {
    const owner = await stat(server.dir);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: server.dir, LC_ALL: "C" };
    for (const key of Object.keys(env)) if (key.startsWith("PG")) delete env[key];
    const port = new URL(server.url).port;
    restarted = startServerProcess({
      command: join(binDir, "postgres"),
      args: [
        "-D",
        join(server.dir, "data"),
        "-p",
        port,
        "-k",
        server.dir,
        "-c",
        "listen_addresses=127.0.0.1",
      ],
      env,
      cwd: server.dir,
      logFile: join(server.dir, "restart.log"),
      ...(process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    const probe = newPool(1, server.url);
    await waitUntil(
      () =>
        probe.query("SELECT 1").then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
        failed: () => restarted?.exitReason,
      },
    );
    await probe.end();
  }

  it("fails clearly and leaves nothing half-written", async () => {
    const pool = newPool(4, server.url);
    await migrateOutbox(pool);
    await pool.query("CREATE TABLE orders (id text PRIMARY KEY)");
    const outbox = createPostgresOutbox({ pool });
    const client = await pool.connect();
    client.on("error", () => {}); // the server ending the session is reported on the next query
    await client.query("BEGIN");
    await client.query("INSERT INTO orders VALUES ('o-1')");

    process.kill(server.pid, "SIGINT"); // fast shutdown: sessions are terminated
    await waitUntil(
      async () => {
        try {
          process.kill(server.pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 15_000, intervalMs: 100, failed: () => undefined },
    );

    const failure = await outbox.publish(client, "order.created", { orderId: "o-1" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "WARREN_OUTBOX_DATABASE_UNAVAILABLE" });
    expect((failure as Error).message).toMatch(/PostgreSQL is unavailable .*did not commit/);
    client.release(true);

    const warren = await connect({ url: brokerUrls().url, logger });
    try {
      await expect(outbox.startRelay(warren, { registry: new Registry() })).rejects.toMatchObject({
        code: "WARREN_OUTBOX_DATABASE_UNAVAILABLE",
      });
    } finally {
      await warren.close();
      await pool.end();
    }

    await restart();
    const after = newPool(1, server.url);
    try {
      const counts = await after.query(
        "SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM warren_outbox)::int AS outbox",
      );
      expect(counts.rows[0]).toEqual({ orders: 0, outbox: 0 });
    } finally {
      await after.end();
    }
  });
});
