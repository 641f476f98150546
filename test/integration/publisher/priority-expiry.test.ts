/**
 * Priorities and expiry on a real broker: a classic queue with `priority`
 * hands out urgent messages first, `expiresIn` makes the broker dead-letter
 * an unconsumed message to Q.dlq with reason `expired` (as `warren dlq`
 * reads it), and bad values are refused before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Warren } from "../../../src/client.ts";
import { inspectDeadLetters } from "../../../src/dlq/inspect.ts";
import { ErrorCode } from "../../../src/errors.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { sleep } from "../../support/wait.ts";
import { clientOnTopology, rejection, type TestVhost } from "./support.ts";

const topology = compileTopology(
  resolveTopology({
    exchanges: { jobs: { type: "direct" } },
    queues: {
      urgent: { type: "classic", priority: 5, bindings: [{ exchange: "jobs", routingKey: "job" }] },
      plain: { bindings: [{ exchange: "jobs", routingKey: "chore" }] },
    },
  }),
);

describe("priorities and expiry", () => {
  let vhost: TestVhost;
  let warren: Warren;

  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ vhost, warren, close } = await clientOnTopology(topology, "jobs"));
  });

  afterAll(() => close?.());

  it("delivers higher priorities first from a queue with priority", async () => {
    for (const [n, priority] of [
      [1, 0],
      [2, 5],
      [3, 1],
      [4, 5],
    ] as const) {
      await warren.publish("job", { n }, { priority });
    }
    const order: number[] = [];
    for (let i = 0; i < 4; i++) {
      const message = await vhost.channel.get("urgent", { noAck: true });
      if (message === false) throw new Error("queue empty too soon");
      order.push((JSON.parse(message.content.toString()) as { n: number }).n);
    }
    expect(order).toEqual([2, 4, 3, 1]);
  });

  it("refuses a priority out of range, above the queue's, or for a queue without priority", async () => {
    for (const priority of [-1, 1.5, 256]) {
      const error = await rejection(warren.publish("job", { n: 0 }, { priority }));
      expect(error.code).toBe(ErrorCode.WARREN_PUBLISH_INVALID_OPTIONS);
    }
    const above = await rejection(warren.publish("job", { n: 0 }, { priority: 6 }));
    expect(above.message).toContain('above the priority of queue "urgent" (5)');
    const none = await rejection(warren.publish("chore", { n: 0 }, { priority: 1 }));
    expect(none.message).toContain('queue "plain" has no priority');
    expect((await vhost.channel.checkQueue("urgent")).messageCount).toBe(0);
  });

  it("dead-letters an expired message to Q.dlq with reason expired", async () => {
    await warren.publish("chore", { n: 1 }, { expiresIn: "200ms" });
    // The broker expires a message when it reaches the head of the queue.
    let dead = 0;
    for (let i = 0; i < 100 && dead === 0; i++) {
      await sleep(100);
      dead = (await vhost.channel.checkQueue("plain.dlq")).messageCount;
    }
    expect(dead).toBe(1);
    const listing = await inspectDeadLetters({ url: vhost.url, queue: "plain" });
    expect(listing.messages.map((m) => m.reason)).toEqual(["expired"]);
  });

  it("refuses a malformed expiresIn and expiresIn with delay", async () => {
    const bad = await rejection(warren.publish("chore", { n: 0 }, { expiresIn: "later" }));
    expect(bad.code).toBe(ErrorCode.WARREN_PUBLISH_INVALID_OPTIONS);
    const both = await rejection(
      warren.publish("chore", { n: 0 }, { expiresIn: "1m", delay: "1s" }),
    );
    expect(both.message).toContain("cannot be combined with delay");
  });
});
