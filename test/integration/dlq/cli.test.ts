import { afterEach, describe, expect, it } from "vitest";
import {
  amqpUrl,
  drain,
  freshTopology,
  publishDeadLetters,
  readyCount,
  runCli,
} from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function withDeadLetters() {
  const topology = await freshTopology({ work: {} });
  cleanups.push(topology.remove);
  await publishDeadLetters(topology.url, "work", [
    { messageId: "a", reason: "retries-exhausted" },
    { messageId: "b", reason: "non-retryable" },
    { messageId: "c", reason: "retries-exhausted" },
  ]);
  return topology;
}

describe("warren dlq", () => {
  it("list prints each dead letter with its failure, and --json gives the headers; nothing is taken", async () => {
    const { url, vhost } = await withDeadLetters();

    const human = await runCli(["dlq", "list", "work", "--vhost", vhost]);
    expect(human.stderr).toBe("");
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`"work.dlq" in vhost "${vhost}" holds 3 messages.`);
    expect(human.stdout).toContain("#1  messageId b  reason non-retryable  attempts 4");
    expect(human.stdout).toContain("error: TypeError: boom b");
    expect(human.stdout).toContain('published to: exchange "orders", routing key "order.created"');
    expect(human.stdout).toContain('body (10 bytes): {"id":"b"}');

    const json = await runCli([
      "dlq",
      "list",
      "work.dlq",
      "--vhost",
      vhost,
      "--limit",
      "2",
      "--json",
    ]);
    expect(json.code).toBe(0);
    const listing = JSON.parse(json.stdout);
    expect(listing).toMatchObject({ ok: true, vhost, queue: "work", total: 3 });
    expect(listing.messages).toHaveLength(2);
    expect(listing.messages[1]).toMatchObject({
      messageId: "b",
      reason: "non-retryable",
      headers: { "warren-error-message": "boom b", "app-tenant": "acme" },
    });

    expect((await drain(url, "work.dlq")).map((m) => m.properties.messageId)).toEqual([
      "a",
      "b",
      "c",
    ]);
  });

  it("replay --reason moves only the matching dead letters; --dry-run moves none", async () => {
    const { url, vhost } = await withDeadLetters();

    const dry = await runCli(["dlq", "replay", "work", "--vhost", vhost, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      'Dry run: would replay 3 messages from "work.dlq" to "work"; nothing was moved.',
    );
    expect(await readyCount(url, "work")).toBe(0);

    const run = await runCli([
      "dlq",
      "replay",
      "work",
      "--vhost",
      vhost,
      "--reason",
      "retries-exhausted",
      "--json",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      dryRun: false,
      total: 3,
      replayed: 2,
      skipped: 1,
      messages: [{ messageId: "a" }, { messageId: "c" }],
    });
    expect((await drain(url, "work")).map((m) => m.properties.messageId)).toEqual(["a", "c"]);
    expect((await drain(url, "work.dlq")).map((m) => m.properties.messageId)).toEqual(["b"]);
  });

  it("purge refuses without --yes (exit 1, nothing deleted) and empties the queue with it", async () => {
    const { url, vhost } = await withDeadLetters();

    const refused = await runCli(["dlq", "purge", "work", "--vhost", vhost, "--json"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe("WARREN_DLQ_PURGE_UNCONFIRMED");
    expect(refused.stderr).toContain("--yes");
    expect(await readyCount(url, "work.dlq")).toBe(3);

    const purged = await runCli(["dlq", "purge", "work", "--vhost", vhost, "--yes", "--json"]);
    expect(purged.code).toBe(0);
    expect(JSON.parse(purged.stdout)).toMatchObject({
      ok: true,
      deadLetterQueue: "work.dlq",
      purged: 3,
    });
    expect(await readyCount(url, "work.dlq")).toBe(0);
  });

  it("fails with exit 1 and a stable code for an unknown queue, a bad --limit and refused credentials, never printing the password", async () => {
    const { vhost } = await withDeadLetters();

    const unknown = await runCli(["dlq", "list", "nope", "--vhost", vhost, "--json"]);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({
      code: "WARREN_DLQ_NOT_FOUND",
      message: expect.stringContaining('queue "nope.dlq" does not exist'),
    });

    const badLimit = await runCli(["dlq", "list", "work", "--vhost", vhost, "--limit", "ten"]);
    expect(badLimit.code).toBe(1);
    expect(badLimit.stderr).toContain('--limit must be a positive integer, got "ten"');

    const secret = "s3cret-Pw-9f2";
    const wrong = new URL(amqpUrl);
    wrong.username = "guest";
    wrong.password = secret;
    const refused = await runCli(["dlq", "list", "work", "--vhost", vhost, "--url", wrong.href]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/WARREN_BROKER_AUTH|refused the login/);
    expect(refused.stdout + refused.stderr).not.toContain(secret);
  });
});
