import http from "node:http";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleServer, startConsole } from "../../../src/console/server.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { freshTopology, publishDeadLetters } from "../dlq/helpers.ts";
import { createUser, readyCount, type TestUser } from "./helpers.ts";

// The console's HTTP API without a browser: what each action does to the
// messages, and what it refuses.
describe("the console API", () => {
  let vhost: string;
  let url: string;
  let remove: () => Promise<void>;
  let user: TestUser;
  let server: ConsoleServer;

  const call = async (path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        "x-warren-token": server.token,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, text: await response.text() };
  };
  const json = async (path: string, body?: unknown) => {
    const { status, text } = await call(path, body);
    return { status, body: JSON.parse(text) };
  };

  beforeAll(async () => {
    ({ vhost, url, remove } = await freshTopology({
      work: { type: "classic", retry: { delays: ["1s"], maxAttempts: 2 } },
      other: {},
    }));
    user = await createUser(vhost);
    await publishDeadLetters(url, "work", [
      { messageId: "a", reason: "retries-exhausted" },
      { messageId: "b", reason: "non-retryable" },
      { messageId: "c", reason: "retries-exhausted" },
      { messageId: "d", reason: "non-retryable" },
    ]);
    server = await startConsole({
      url: user.url,
      managementUrl: user.managementUrl,
      topology: compileTopology(
        resolveTopology({
          vhost,
          exchanges: { orders: { type: "topic" } },
          queues: {
            work: { type: "classic", retry: { delays: ["1s"], maxAttempts: 2 } },
            other: {},
          },
        }),
      ),
      port: 0,
      refreshMs: 1_000,
    });
  });

  afterAll(async () => {
    await server?.close();
    await user?.remove().catch(() => {});
    await remove?.();
  });

  it("lists dead letters with their groups, and reports where it looks without any password", async () => {
    const info = await json("/api/info");
    expect(info.body).toMatchObject({ ok: true, vhost, source: "file" });
    expect(JSON.stringify(info.body)).not.toContain(user.password);
    const listing = await json("/api/dead-letters?queue=work");
    expect(listing.body).toMatchObject({ ok: true, total: 4, deadLetterQueue: "work.dlq" });
    expect(listing.body.groups).toMatchObject([
      { reason: "non-retryable", errorType: "TypeError", count: 2 },
      { reason: "retries-exhausted", errorType: "TypeError", count: 2 },
    ]);
    const stats = await json("/api/stats");
    expect(stats.body.queues.map((q: { name: string }) => q.name)).toEqual(["work", "other"]);
    expect(stats.body.queues[0].queues.map((q: { name: string }) => q.name)).toEqual([
      "work",
      "work.retry.1s",
      "work.dlq",
    ]);
  });

  it("replays a group (dry run first moves nothing), then refuses a purge without confirm and purges with it", async () => {
    const group = { kind: "group", reason: "non-retryable", errorType: "TypeError" };
    const dry = await json("/api/replay", { queue: "work", select: group, dryRun: true });
    expect(dry.body).toMatchObject({ ok: true, dryRun: true, replayed: 2, skipped: 2 });
    expect(await readyCount(url, "work")).toBe(0);

    const done = await json("/api/replay", { queue: "work", select: group });
    expect(done.body.messages.map((m: { messageId: string }) => m.messageId)).toEqual(["b", "d"]);
    expect(await readyCount(url, "work")).toBe(2);
    expect(await readyCount(url, "work.dlq")).toBe(2);

    const unconfirmed = await json("/api/purge", { queue: "work" });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.body.error.code).toBe("WARREN_DLQ_PURGE_UNCONFIRMED");
    expect(await readyCount(url, "work.dlq")).toBe(2);

    const purged = await json("/api/purge", { queue: "work", confirm: true });
    expect(purged.body).toMatchObject({ ok: true, purged: 2 });
    expect(await readyCount(url, "work.dlq")).toBe(0);
  });

  it("shows the publish rate of a queue, and keeps it in the chart's history", async () => {
    // The management API reports a rate only between two of its samples
    // (about 5 s apart here), so publish a steady trickle until one shows.
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    const published = async () => {
      const stats = await json("/api/stats");
      return stats.body.history.some(
        (sample: { rates: { other?: { publish: number } } }) =>
          (sample.rates.other?.publish ?? 0) > 0,
      );
    };
    try {
      for (let i = 0; i < 150 && !(await published()); i++) {
        channel.sendToQueue("other", Buffer.from(`{"n":${i}}`), { persistent: true });
        await channel.waitForConfirms();
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await published()).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it("refuses queues outside its topology, malformed actions, and requests for another host", async () => {
    const unknown = await json("/api/replay", { queue: "elsewhere", select: { kind: "all" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({
      code: "WARREN_CONSOLE_UNKNOWN_QUEUE",
      message: '"elsewhere" is not a work queue of this console (known: work, other)',
    });
    const bad = await json("/api/replay", { queue: "work", select: { kind: "some" }, extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("WARREN_CONSOLE_BAD_REQUEST");
    const badLimit = await json("/api/dead-letters?queue=work&limit=0");
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.code).toBe("WARREN_INVALID_OPTIONS");
    const notJson = await call("/api/purge", undefined, {});
    expect(notJson.status).toBe(400);
    // fetch cannot set Host; a DNS-rebinding page's requests carry its own name.
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      http
        .get(
          `${server.url}/api/info`,
          { headers: { host: `rebound.example:${server.port}`, "x-warren-token": server.token } },
          (response) => {
            response.resume();
            resolve(response.statusCode);
          },
        )
        .on("error", reject);
    });
    expect(rebound).toBe(403);
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="/console.js" defer></script>');
  });

  it("finds the work queues on the broker when no topology file is given, and fails clearly on a taken port", async () => {
    const found = await startConsole({ url: user.url, managementUrl: user.managementUrl, port: 0 });
    try {
      expect(found.topology.source).toBe("broker");
      expect(found.topology.queues.map((q) => q.name)).toEqual(["other", "work"]);
      expect(found.topology.queues[1]?.tiers).toEqual([{ queue: "work.retry.1s", delayMs: 1000 }]);
      await expect(
        startConsole({ url: user.url, managementUrl: user.managementUrl, port: found.port }),
      ).rejects.toMatchObject({ code: "WARREN_CONSOLE_LISTEN_FAILED" });
    } finally {
      await found.close();
    }
    await expect(startConsole({ url: user.url, port: 70_000 })).rejects.toMatchObject({
      code: "WARREN_INVALID_OPTIONS",
    });
  });
});
