import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "amqplib";
import { describe, expect, it } from "vitest";
import { findOrStartBroker } from "../../../src/testing/broker.ts";
import { findRabbitmqServer, startLocalBroker } from "../../../src/testing/broker-local.ts";
import { groupAlive } from "../../../src/testing/process.ts";
import { brokerUrls, management, withVhost } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";

/** Pids whose command line mentions `needle` (Linux /proc). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

describe("the run's broker", () => {
  it("accepts AMQP connections and routes a message through a queue", async () => {
    const connection = await connect(brokerUrls().url);
    try {
      const channel = await connection.createChannel();
      const queue = randomName("finder");
      await channel.assertQueue(queue, { exclusive: true });
      channel.sendToQueue(queue, Buffer.from("hello"));
      await expect
        .poll(async () => (await channel.get(queue, { noAck: true })) || undefined)
        .toMatchObject({
          content: Buffer.from("hello"),
        });
    } finally {
      await connection.close();
    }
  });

  it("is also in process.env, for code and child processes that read RABBITMQ_URL", () => {
    expect(process.env.RABBITMQ_URL).toBe(brokerUrls().url);
    expect(process.env.RABBITMQ_MANAGEMENT_URL).toBe(brokerUrls().managementUrl);
  });

  it("answers the management API with the credentials in its URL", async () => {
    const overview = await management<{ rabbitmq_version: string }>("/api/overview");
    expect(overview.rabbitmq_version).toMatch(/^\d+\.\d+/);
  });

  it("gives a test its own vhost and deletes it afterwards", async () => {
    const name = await withVhost(async (vhost) => {
      const connection = await connect(vhost.url);
      const channel = await connection.createChannel();
      await channel.assertQueue("only-here", { durable: true });
      await connection.close();
      const queues = await management<{ name: string }[]>(
        `/api/queues/${encodeURIComponent(vhost.name)}`,
      );
      expect(queues.map((queue) => queue.name)).toEqual(["only-here"]);
      return vhost.name;
    });
    const vhosts = await management<{ name: string }[]>("/api/vhosts");
    expect(vhosts.map((vhost) => vhost.name)).not.toContain(name);
  });
});

describe("findOrStartBroker", () => {
  const serverPath = findRabbitmqServer(process.env);

  it.skipIf(serverPath === undefined)(
    "starts a throwaway local node that answers, then leaves no process and no temp dir behind",
    async () => {
      const node = await startLocalBroker({
        serverPath: serverPath!,
        env: process.env,
        startTimeoutMs: 60_000,
        stopTimeoutMs: 10_000,
      });
      try {
        expect(node.url).not.toBe(brokerUrls().url);
        const connection = await connect(node.url);
        await connection.close();
        expect(existsSync(node.dir)).toBe(true);
        // The VM runs with `-home <temp dir>`: that is how its processes are found.
        expect(processesMentioning(node.dir).length).toBeGreaterThan(0);
      } finally {
        await node.stop();
      }

      expect(groupAlive(node.pid)).toBe(false);
      expect(processesMentioning(node.dir)).toEqual([]);
      expect(existsSync(node.dir)).toBe(false);
    },
    // Room for the 60 s start deadline above (the node also starts
    // rabbitmq_prometheus now) plus the stop, on a busy machine.
    90_000,
  );

  it("fails with the tail of the node's log when the node does not start, and cleans up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "warren-fake-server-"));
    const nodeDirs = () =>
      readdirSync(tmpdir()).filter((name) => name.startsWith("warren-rabbitmq-"));
    const before = nodeDirs();
    try {
      const fake = join(dir, "rabbitmq-server");
      await writeFile(fake, "#!/bin/sh\necho 'boot failed: eaddrinuse' >&2\nexit 1\n");
      await chmod(fake, 0o755);
      const error = await findOrStartBroker({ sources: ["local"], rabbitmqServerPath: fake }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ code: "WARREN_BROKER_START_FAILED" });
      expect((error as Error).message).toMatch(/exit code 1[\s\S]*boot failed: eaddrinuse/);
      expect(nodeDirs().filter((name) => !before.includes(name))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("uses RABBITMQ_URL as is and derives the management URL from it", async () => {
    const broker = await findOrStartBroker({
      env: { RABBITMQ_URL: "amqp://app:s3cret@rabbit.internal:5673/prod" },
    });
    expect(broker).toMatchObject({
      source: "env",
      url: "amqp://app:s3cret@rabbit.internal:5673/prod",
      managementUrl: "http://app:s3cret@rabbit.internal:15672",
    });
    await broker.stop();
  });

  it("says how to get a broker when no source has one", async () => {
    const error = await findOrStartBroker({ sources: ["env"], env: {} }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: "WARREN_BROKER_NOT_FOUND" });
    const message = (error as Error).message;
    expect(message).toContain("RABBITMQ_URL: not set");
    expect(message).toContain("export RABBITMQ_URL=");
    expect(message).toContain("install Docker");
    expect(message).toContain("apt-get install rabbitmq-server");
  });
});
