import { afterEach, describe, expect, it } from "vitest";
import { inspectDeadLetters } from "../../../src/dlq/inspect.ts";
import {
  crashLoop,
  drain,
  freshTopology,
  ids,
  managementUrl,
  publishDeadLetters,
  readyCount,
} from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("inspectDeadLetters", () => {
  for (const type of ["quorum", "classic"] as const) {
    it(`lists the dead letters of a ${type} queue with their failure headers and leaves all of them in place, in order`, async () => {
      const { url, vhost, remove } = await freshTopology({
        work: { type, bindings: [{ exchange: "orders", routingKey: "order.*" }] },
      });
      cleanups.push(remove);
      const messageIds = ids(30);
      await publishDeadLetters(
        url,
        "work",
        messageIds.map((messageId, i) => ({
          messageId,
          reason: i % 3 === 0 ? "non-retryable" : "retries-exhausted",
        })),
      );

      const first = await inspectDeadLetters({ url, managementUrl, queue: "work", limit: 10 });
      expect(first).toMatchObject({
        vhost,
        queue: "work",
        deadLetterQueue: "work.dlq",
        total: 30,
      });
      expect(first.messages.map((m) => m.messageId)).toEqual(messageIds.slice(0, 10));
      expect(first.messages[0]).toMatchObject({
        position: 0,
        messageId: "m-000",
        type: "order.created",
        publishedAt: "2023-11-14T22:13:20.000Z",
        reason: "non-retryable",
        errorType: "TypeError",
        errorMessage: "boom m-000",
        attempts: 4,
        firstFailedAt: "2024-05-01T10:00:00.000Z",
        failedAt: "2024-05-01T10:01:11.000Z",
        originalExchange: "orders",
        originalRoutingKey: "order.created",
        replayCount: 0,
        bodyPreview: '{"id":"m-000"}',
        bodyEncoding: "utf8",
        bodyTruncated: false,
        bodyBytes: 14,
      });
      expect(first.messages[0]?.errorStack).toContain("at handler");
      expect(first.messages[0]?.headers["app-tenant"]).toBe("acme");
      expect(first.messages[1]?.reason).toBe("retries-exhausted");

      // Listing again, and accepting the .dlq name, sees the same messages.
      const all = await inspectDeadLetters({ url, managementUrl, queue: "work.dlq" });
      expect(all.messages.map((m) => m.messageId)).toEqual(messageIds);
      if (type === "quorum") expect(all.messages[0]?.deliveryCount).toBe(1);

      // Listings of every length, one after another, keep the queue as it was.
      for (const limit of [3, 25, 1, 30, 7]) {
        const listing = await inspectDeadLetters({ url, managementUrl, queue: "work", limit });
        expect(listing.messages.map((m) => m.messageId)).toEqual(messageIds.slice(0, limit));
        expect(listing.messages.map((m) => m.position)).toEqual([...Array(limit).keys()]);
      }

      expect(await readyCount(url, "work.dlq")).toBe(30);
      const left = await drain(url, "work.dlq");
      expect(left.map((m) => m.properties.messageId)).toEqual(messageIds);
    });
  }

  it("shows the broker's x-death when the broker dead-lettered a message by its delivery limit", async () => {
    const { url, remove } = await freshTopology({
      work: { deliveryLimit: 1, bindings: [{ exchange: "orders", routingKey: "order.*" }] },
    });
    cleanups.push(remove);
    await crashLoop(url, "work", "crash-1");
    for (let i = 0; i < 100 && (await readyCount(url, "work.dlq")) === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }

    const { messages } = await inspectDeadLetters({ url, managementUrl, queue: "work" });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      messageId: "crash-1",
      reason: "delivery_limit",
      originalExchange: "orders",
      originalRoutingKey: "order.crash",
    });
    expect(messages[0]?.xDeath?.[0]).toMatchObject({
      queue: "work",
      reason: "delivery_limit",
      exchange: "orders",
      routingKeys: ["order.crash"],
    });
  });

  it("truncates the body preview and says so", async () => {
    const { url, remove } = await freshTopology({ work: {} });
    cleanups.push(remove);
    await publishDeadLetters(url, "work", [{ messageId: "big", body: { text: "é".repeat(500) } }]);

    const { messages } = await inspectDeadLetters({
      url,
      managementUrl,
      queue: "work",
      previewBytes: 32,
    });
    expect(messages[0]?.bodyTruncated).toBe(true);
    expect(messages[0]?.bodyEncoding).toBe("utf8");
    expect(Buffer.byteLength(messages[0]?.bodyPreview ?? "")).toBeLessThanOrEqual(32);
    expect(messages[0]?.bodyPreview.startsWith('{"text":"éé')).toBe(true);
  });

  it("names the queue and the fix when there is no Q.dlq", async () => {
    const { url, vhost, remove } = await freshTopology({ work: {} });
    cleanups.push(remove);
    await expect(
      inspectDeadLetters({ url, managementUrl, queue: "missing" }),
    ).rejects.toMatchObject({
      code: "WARREN_DLQ_NOT_FOUND",
      message: expect.stringContaining(`queue "missing.dlq" does not exist in vhost "${vhost}"`),
    });
  });
});
