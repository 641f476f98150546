import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { PublishError } from "../../../src/errors.ts";
import { createVhost, logger, randomName, type TestVhost } from "./support.ts";

// connect() hands out a client that can publish at once, and a full
// backlog refuses publishes with WARREN_PUBLISH_BACKLOG_FULL.
let vhost: TestVhost;
let queue: string;
let warren: Warren | undefined;
beforeEach(async () => {
  vhost = await createVhost();
  queue = randomName("q");
  await vhost.channel.assertQueue(queue, { durable: true });
});
afterEach(async () => {
  await warren?.close();
  warren = undefined;
  await vhost.close();
});

describe("connect() readiness", () => {
  it("resolves with the confirm channel open: readiness() is ready and a burst with a small maxQueued succeeds", async () => {
    warren = await connect({
      url: vhost.url,
      logger,
      serviceName: randomName("ready"),
      publisher: { maxQueued: 2 },
    });
    expect(warren.readiness()).toEqual({
      ready: true,
      reasons: [],
      checks: [{ name: "publisher", ready: true }],
    });
    expect(warren.connected).toBe(true);
    const client = warren;
    // All 20 fit the in-flight window at once; none waits in the 2-entry backlog.
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.publish(queue, { i })));
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(20);
  });
});

describe("backlog", () => {
  it("refuses publishes beyond maxQueued with WARREN_PUBLISH_BACKLOG_FULL and confirms the accepted ones", async () => {
    warren = await connect({
      url: vhost.url,
      logger,
      serviceName: randomName("backlog"),
      publisher: { maxInFlight: 1, maxQueued: 3 },
    });
    const client = warren;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => client.publish(queue, { i }, { messageId: `m-${i}` })),
    );
    const refused = results.filter((r) => r.status === "rejected");
    // One written (the window), three waiting (the backlog), six refused.
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(4);
    expect(refused).toHaveLength(6);
    for (const r of refused) {
      const error = (r as PromiseRejectedResult).reason as PublishError;
      expect(error).toBeInstanceOf(PublishError);
      expect(error.code).toBe("WARREN_PUBLISH_BACKLOG_FULL");
      expect(error.inDoubt).toBe(false);
      expect(error.message).toMatch(/3 publishes already wait for room \(maxQueued\)/);
    }
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(4);
    // Room again once the backlog drained.
    await client.publish(queue, { late: true });
    expect((await vhost.channel.checkQueue(queue)).messageCount).toBe(5);
  });
});
