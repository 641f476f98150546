/**
 * `warren status` against the test broker: the table and --json, and the
 * exit codes that gate a deploy (2 for a non-empty DLQ or a queue without
 * consumers, each switchable; 0 when clean; 1 for bad usage).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADER } from "../../../src/headers.ts";
import { brokerUrls } from "../../support/broker.ts";
import { runCli } from "../../support/cli.ts";
import { runInProcess } from "../../support/cli-in-process.ts";
import { waitFor } from "../consumer/harness.ts";
import { freshTopology, publishDeadLetters } from "../dlq/helpers.ts";

let topology: Awaited<ReturnType<typeof freshTopology>>;
let dir: string;
let file: string;
let consumer: ChannelModel | undefined;

beforeAll(async () => {
  const queues = { work: { retry: { delays: ["1s", "5s"], maxAttempts: 3 } } };
  topology = await freshTopology(queues);
  dir = await mkdtemp(join(tmpdir(), "warren-status-"));
  file = join(dir, "topology.json");
  await writeFile(
    file,
    JSON.stringify({ vhost: topology.vhost, exchanges: { orders: { type: "topic" } }, queues }),
  );
});

afterAll(async () => {
  await consumer?.close().catch(() => {});
  await topology.remove();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs the CLI in-process against the test broker (the dispatcher is the
 * same one bin/warren.js runs; one test below runs the real process).
 */
function cli(argv: string[]) {
  const { url, managementUrl } = brokerUrls();
  return runInProcess(argv, { RABBITMQ_URL: url, RABBITMQ_MANAGEMENT_URL: managementUrl });
}

/** Runs status until it exits with `code` (management statistics lag by a second or so). */
async function statusUntil(code: number, args: string[]) {
  let last: Awaited<ReturnType<typeof cli>> | undefined;
  return waitFor(
    async () => {
      last = await cli(["status", ...args]);
      return last.code === code ? last : undefined;
    },
    20_000,
    `warren status ${args.join(" ")} to exit ${code}`,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; last run: ${JSON.stringify(last)}`);
  });
}

describe("warren status", () => {
  it("exits 2 while a work queue has no consumer, 0 with --ignore-consumers", async () => {
    const run = await statusUntil(2, [file]);
    expect(run.stdout).toContain(`vhost "${topology.vhost}"`);
    expect(run.stdout).toMatch(/^work\s+0\s+0\s+0\.0\s+0\.0\s+1s:0 5s:0\s+0\s+-$/m);
    expect(run.stdout).toContain("problem: no-consumers: work has no consumer");
    expect((await cli(["status", file, "--ignore-consumers"])).code).toBe(0);
  });

  it("exits 0 once the queue has a consumer and its DLQ is empty", async () => {
    consumer = await amqp.connect(topology.url);
    const channel = await consumer.createChannel();
    await channel.consume("work", () => {});
    const run = await statusUntil(0, [file]);
    expect(run.stdout).toContain("ok: no problems");
  });

  it("exits 2 when the DLQ holds messages, reports the oldest one's age, and leaves it there", async () => {
    const failedAt = new Date(Date.now() - 90_000).toISOString();
    await publishDeadLetters(topology.url, "work", [
      { messageId: "old", headers: { [HEADER.failedAt]: failedAt } },
      { messageId: "new", headers: { [HEADER.failedAt]: new Date().toISOString() } },
    ]);
    const run = await statusUntil(2, [file, "--json"]);
    const report = JSON.parse(run.stdout);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: "dlq-not-empty", queue: "work" }),
    ]);
    const work = report.queues[0];
    expect(work).toMatchObject({ name: "work", consumers: 1, deadLetter: { name: "work.dlq" } });
    expect(work.deadLetter.ready + work.deadLetter.unacked).toBe(2);
    expect(work.oldestDeadLetterAgeSeconds).toBeGreaterThanOrEqual(89);
    expect(work.oldestDeadLetterAgeSeconds).toBeLessThan(150);

    const human = await cli(["status", file]);
    expect(human.stdout).toMatch(/^work\s+0\s+1\s.*\s2\s+1m$/m);
    // The real process exits with the same code.
    expect((await runCli(["status", file])).code).toBe(2);
    expect((await cli(["status", file, "--ignore-dlq"])).code).toBe(0);

    // Reading the head gave it back at the head: the same message comes first.
    const check = await amqp.connect(topology.url);
    const channel = await check.createChannel();
    const head = await channel.get("work.dlq", { noAck: false });
    expect(head !== false && head.properties.messageId).toBe("old");
    await check.close();
  });

  it("without a file reports every work queue of the vhost by naming convention", async () => {
    const run = await cli(["status", "--vhost", topology.vhost, "--json", "--ignore-dlq"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.queues.map((q: { name: string }) => q.name)).toEqual(["work"]);
    expect(report.queues[0].tiers.map((t: { name: string }) => t.name)).toEqual([
      "work.retry.1s",
      "work.retry.5s",
    ]);
  });

  it("exits 2 when a retry tier holds a dead letter its target has not accepted, in two readings", async () => {
    // The tier's copy expires after 1 s and is dead-lettered at least once
    // to `work`; with `work` gone the broker has nowhere to put it and keeps
    // it in the tier: counted, neither ready nor unacked.
    const heldQueues = { work: { retry: { delays: ["1s"], maxAttempts: 2 } } };
    const held = await freshTopology(heldQueues);
    try {
      const connection = await amqp.connect(held.url);
      const channel = await connection.createConfirmChannel();
      await channel.deleteQueue("work");
      channel.sendToQueue("work.retry.1s", Buffer.from("{}"), { messageId: "held-1" });
      await channel.waitForConfirms();
      await connection.close();

      const heldFile = join(dir, "held.json");
      await writeFile(heldFile, JSON.stringify({ vhost: held.vhost, queues: heldQueues }));
      // `work` is missing from the start (exit 2 at once); the held count
      // shows once the copy has expired and the statistics caught up.
      const report = await waitFor(
        async () => {
          const run = await cli(["status", heldFile, "--json", "--ignore-consumers"]);
          const parsed = JSON.parse(run.stdout);
          return run.code === 2 && parsed.queues[0].tiers[0].held > 0 ? parsed : undefined;
        },
        40_000,
        "the tier's held dead letter in warren status",
      );
      expect(report.queues[0].tiers[0]).toMatchObject({
        name: "work.retry.1s",
        ready: 0,
        unacked: 0,
        held: 1,
      });
      expect(report.problems).toEqual([
        expect.objectContaining({
          kind: "dead-letters-held",
          queue: "work",
          detail: expect.stringContaining("work.retry.1s holds 1 dead-lettered message"),
        }),
        expect.objectContaining({ kind: "queue-missing", queue: "work" }),
      ]);
      const human = await cli(["status", heldFile, "--ignore-consumers"]);
      expect(human.stdout).toMatch(/^work\s+missing\s.*\s1s:0 \(1 held\)\s/m);
      expect(human.stdout).toContain("problem: dead-letters-held: work.retry.1s holds 1");
    } finally {
      await held.remove();
    }
  });

  it("exits 1 on bad usage", async () => {
    const run = await cli(["status", file, "extra"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('unexpected argument "extra"');
    expect((await cli(["status", "--watch", "--interval-ms", "5"])).code).toBe(1);
  });
});
