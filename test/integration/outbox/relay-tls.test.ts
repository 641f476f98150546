/**
 * `warren outbox relay` reaches a broker over TLS with the same flags as
 * every other command: `--ca`, `--cert`, `--key` and `--servername`. The
 * broker sits behind a TLS listener that requires a client certificate and
 * whose certificate names another host than the URL's, so the relay only
 * gets through with all four flags.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresOutbox } from "../../../src/outbox/outbox.ts";
import { runInProcess } from "../../support/cli-in-process.ts";
import { databaseUrl } from "../../support/postgres.ts";
import { startTlsProxy, TLS_SERVER_NAME, type TlsProxy } from "../../support/tls-proxy.ts";
import { collect, inTransaction, newPool, ordersVhost, withOutboxTable } from "./support.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

describe("warren outbox relay over TLS", () => {
  const pool = newPool(2);
  let vhost: Awaited<ReturnType<typeof ordersVhost>>;
  let proxy: TlsProxy;

  beforeAll(async () => {
    vhost = await ordersVhost();
    proxy = await startTlsProxy(vhost.url);
  });
  afterAll(async () => {
    await proxy.close();
    await vhost.close();
    await pool.end();
  });

  it("lets no client through without the client certificate or the server name", async () => {
    const [ca, cert, key] = await Promise.all(
      [proxy.caFile, proxy.certFile, proxy.keyFile].map((file) => readFile(file)),
    );
    const attempt = (options: Record<string, unknown>) =>
      amqp.connect(proxy.url, { timeout: 5_000, ...options }).then((model) => model.close());
    // No client certificate: the listener ends the handshake.
    await expect(attempt({ ca, servername: TLS_SERVER_NAME })).rejects.toThrow();
    // The certificate names another host than the URL's 127.0.0.1.
    await expect(attempt({ ca, cert, key })).rejects.toThrow(/altnames|hostname|IP/i);
    await attempt({ ca, cert, key, servername: TLS_SERVER_NAME });
  });

  it("relays a row through amqps with --ca, --cert, --key and --servername, and stops on SIGTERM", async () => {
    const { table, drop } = await withOutboxTable(pool);
    const received = await collect(vhost.url, vhost.queue);
    try {
      const outbox = createPostgresOutbox({ pool, table, exchange: "orders" });
      await inTransaction(pool, (db) => outbox.publish(db, "order.created", { orderId: "tls-1" }));
      const relay = spawn(
        process.execPath,
        [
          "src/cli/run.ts",
          "outbox",
          "relay",
          "--url",
          proxy.url,
          "--ca",
          proxy.caFile,
          "--cert",
          proxy.certFile,
          "--key",
          proxy.keyFile,
          "--servername",
          TLS_SERVER_NAME,
          "--database-url",
          databaseUrl(),
          "--table",
          table,
          "--poll-interval-ms",
          "200",
        ],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      relay.stdout.on("data", (chunk) => {
        output += chunk;
      });
      relay.stderr.on("data", (chunk) => {
        output += chunk;
      });
      const exited = new Promise<number | null>((resolve) => relay.once("exit", resolve));
      try {
        await received.waitForDistinct(1, 30_000).catch((error: Error) => {
          throw new Error(`${error.message}; relay output: ${output}`);
        });
        expect(received.bodies).toEqual([{ orderId: "tls-1" }]);
        // Both of the relay's connections (publisher, consumer role) came through TLS.
        expect(proxy.accepted).toBeGreaterThanOrEqual(1);
      } finally {
        relay.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
      expect(output).toContain("Stopped after relaying 1 row");
      expect(output).not.toContain(new URL(vhost.url).password || "\u0000");
    } finally {
      await received.close();
      await drop();
    }
  });

  it("lists the TLS flags in its help and refuses an unreadable TLS file by name", async () => {
    const help = await runInProcess(["outbox", "relay", "--help"]);
    for (const flag of ["--ca", "--cert", "--key", "--servername", "--timeout-ms"]) {
      expect(help.stdout).toContain(flag);
    }
    const { table, drop } = await withOutboxTable(pool);
    try {
      const missing = await runInProcess([
        "outbox",
        "relay",
        "--url",
        proxy.url,
        "--ca",
        "/nonexistent/ca.pem",
        "--database-url",
        databaseUrl(),
        "--table",
        table,
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("cannot read the TLS CA file /nonexistent/ca.pem");
    } finally {
      await drop();
    }
  });
});
