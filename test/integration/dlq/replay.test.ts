import amqp from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { replayDeadLetters } from "../../../src/dlq/replay.ts";
import {
  crashLoop,
  drain,
  freshTopology,
  ids,
  managementUrl,
  publishDeadLetters,
  readyCount,
  urlFor,
} from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const bound = { bindings: [{ exchange: "orders", routingKey: "order.*" }] };

async function waitForReady(url: string, queue: string, count: number): Promise<void> {
  for (let i = 0; i < 100 && (await readyCount(url, queue)) < count; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("replayDeadLetters", () => {
  for (const type of ["quorum", "classic"] as const) {
    it(`moves every dead letter of a ${type} queue back to its queue, in order, with the attempt reset and the failure kept as history`, async () => {
      const { url, vhost, remove } = await freshTopology({
        work: { type, retry: { delays: ["1s"], maxAttempts: 3 }, ...bound },
      });
      cleanups.push(remove);
      const messageIds = ids(12);
      await publishDeadLetters(
        url,
        "work",
        messageIds.map((messageId) => ({ messageId })),
      );

      const result = await replayDeadLetters({ url, managementUrl, queue: "work" });
      expect(result).toMatchObject({
        vhost,
        queue: "work",
        deadLetterQueue: "work.dlq",
        dryRun: false,
        total: 12,
        scanned: 12,
        replayed: 12,
        skipped: 0,
      });
      expect(result.messages.map((m) => m.messageId)).toEqual(messageIds);

      expect(await readyCount(url, "work.dlq")).toBe(0);
      const replayed = await drain(url, "work");
      expect(replayed.map((m) => m.properties.messageId)).toEqual(messageIds);
      const first = replayed[0]!;
      expect(first.content.toString()).toBe('{"id":"m-000"}');
      expect(first.properties).toMatchObject({
        contentType: "application/json",
        type: "order.created",
        timestamp: 1_700_000_000,
        deliveryMode: 2,
      });
      const headers = first.properties.headers ?? {};
      expect(headers["warren-attempt"]).toBe(1);
      for (const gone of [
        "warren-attempts",
        "warren-reason",
        "warren-error-type",
        "warren-error-message",
        "warren-error-stack",
        "warren-first-failed-at",
        "warren-failed-at",
        "x-death",
      ]) {
        expect(headers, gone).not.toHaveProperty(gone);
      }
      expect(headers).toMatchObject({
        "warren-original-queue": "work",
        "warren-original-exchange": "orders",
        "warren-original-routing-key": "order.created",
        "warren-replay-count": 1,
        "warren-replayed-from": "work.dlq",
        "app-tenant": "acme",
      });
      expect(Date.parse(String(headers["warren-replayed-at"]))).not.toBeNaN();
      expect(headers["warren-previous-failure"]).toEqual({
        reason: "retries-exhausted",
        "error-type": "TypeError",
        "error-message": "boom m-000",
        attempts: 4,
        "first-failed-at": "2024-05-01T10:00:00.000Z",
        "failed-at": "2024-05-01T10:01:11.000Z",
      });
    });

    it(`replays only the dead letters that match the filter and leaves the others in place, in order (${type})`, async () => {
      const { url, remove } = await freshTopology({ work: { type, ...bound } });
      cleanups.push(remove);
      const letters = ids(20).map((messageId, i) => ({
        messageId,
        reason: i % 4 === 1 ? "non-retryable" : "retries-exhausted",
      }));
      await publishDeadLetters(url, "work", letters);
      const matching = letters.filter((l) => l.reason === "non-retryable").map((l) => l.messageId);
      const others = letters.filter((l) => l.reason !== "non-retryable").map((l) => l.messageId);

      const dry = await replayDeadLetters({
        url,
        managementUrl,
        queue: "work.dlq",
        filter: { reason: "non-retryable" },
        dryRun: true,
      });
      expect(dry).toMatchObject({ dryRun: true, replayed: 5, skipped: 15 });
      expect(await readyCount(url, "work")).toBe(0);

      const some = await replayDeadLetters({
        url,
        managementUrl,
        queue: "work",
        filter: { reason: "non-retryable" },
        limit: 2,
      });
      expect(some.messages.map((m) => m.messageId)).toEqual(matching.slice(0, 2));

      const rest = await replayDeadLetters({
        url,
        managementUrl,
        queue: "work",
        filter: (letter) => letter.reason === "non-retryable",
      });
      expect(rest).toMatchObject({ total: 18, replayed: 3, skipped: 15 });

      expect((await drain(url, "work")).map((m) => m.properties.messageId)).toEqual(matching);
      expect((await drain(url, "work.dlq")).map((m) => m.properties.messageId)).toEqual(others);
    });

    it(`a replay that reaches its limit before giving any message back leaves the rest in order (${type})`, async () => {
      const { url, remove } = await freshTopology({ work: { type, ...bound } });
      cleanups.push(remove);
      const messageIds = ids(4);
      await publishDeadLetters(
        url,
        "work",
        messageIds.map((messageId) => ({ messageId })),
      );

      const dry = await replayDeadLetters({
        url,
        managementUrl,
        queue: "work",
        limit: 1,
        dryRun: true,
      });
      expect(dry).toMatchObject({ replayed: 1, skipped: 0 });
      const one = await replayDeadLetters({ url, managementUrl, queue: "work", limit: 1 });
      expect(one.messages.map((m) => m.messageId)).toEqual(["m-000"]);

      expect((await drain(url, "work.dlq")).map((m) => m.properties.messageId)).toEqual(
        messageIds.slice(1),
      );
    });
  }

  it("restores the original exchange and routing key from x-death for a message the broker dead-lettered", async () => {
    const { url, remove } = await freshTopology({ work: { deliveryLimit: 1, ...bound } });
    cleanups.push(remove);
    await crashLoop(url, "work", "crash-1");
    await waitForReady(url, "work.dlq", 1);

    const result = await replayDeadLetters({
      url,
      managementUrl,
      queue: "work",
      filter: { reason: "delivery_limit" },
    });
    expect(result.replayed).toBe(1);
    const [copy] = await drain(url, "work");
    const headers = copy?.properties.headers ?? {};
    expect(headers).not.toHaveProperty("x-death");
    expect(headers).toMatchObject({
      "warren-attempt": 1,
      "warren-original-exchange": "orders",
      "warren-original-routing-key": "order.crash",
      "warren-previous-failure": { reason: "delivery_limit" },
    });
  });

  it("refuses when the work queue does not exist, and moves nothing", async () => {
    const { url, vhost, remove } = await freshTopology({ work: {} });
    cleanups.push(remove);
    const connection = await amqp.connect(urlFor(vhost));
    const channel = await connection.createChannel();
    await channel.assertQueue("ghost.dlq", { durable: true });
    await connection.close();
    await publishDeadLetters(url, "ghost", [{ messageId: "g-1" }]);

    await expect(replayDeadLetters({ url, managementUrl, queue: "ghost" })).rejects.toMatchObject({
      code: "WARREN_DLQ_TARGET_MISSING",
      message: expect.stringContaining(`work queue "ghost" does not exist in vhost "${vhost}"`),
    });
    expect(await readyCount(url, "ghost.dlq")).toBe(1);
  });

  it("stops at the first copy the broker refuses, with the counts, and keeps every unreplayed dead letter in order", async () => {
    const { url, remove } = await freshTopology({ work: { maxLength: 2, ...bound } });
    cleanups.push(remove);
    const messageIds = ids(5);
    await publishDeadLetters(
      url,
      "work",
      messageIds.map((messageId) => ({ messageId })),
    );

    const failure = await replayDeadLetters({ url, managementUrl, queue: "work" }).catch(
      (error: unknown) => error,
    );
    // A quorum queue enforces x-max-length one message late (it refuses once
    // it is over the limit), so the broker takes 2 or 3 copies.
    const replayed = (failure as { progress?: { replayed: number } }).progress?.replayed ?? -1;
    expect([2, 3]).toContain(replayed);
    expect(failure).toMatchObject({
      code: "WARREN_DLQ_REPLAY_FAILED",
      progress: { replayed, scanned: replayed + 1 },
      message: expect.stringContaining(`message "${messageIds[replayed]}"`),
    });
    expect((failure as Error).message).toContain(`${replayed} messages were replayed`);
    expect((failure as Error).message).toContain("refused the copy (nack)");

    expect((await drain(url, "work")).map((m) => m.properties.messageId)).toEqual(
      messageIds.slice(0, replayed),
    );
    expect((await drain(url, "work.dlq")).map((m) => m.properties.messageId)).toEqual(
      messageIds.slice(replayed),
    );
  });
});
