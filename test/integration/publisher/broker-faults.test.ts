/**
 * Faults that need a broker of our own: it is started after the client,
 * driven into a real memory alarm, and stopped and restarted. Never the
 * shared dev broker. One node serves the whole file (starting one takes
 * seconds), and the tests run in order.
 */
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { PublishError } from "../../../src/errors.ts";
import { readyCount } from "../../support/queues.ts";
import { until } from "../../support/wait.ts";
import { logger, sleep } from "./support.ts";
import { createThrowawayNode, type ThrowawayNode } from "./throwaway-node.ts";

const fastBackoff = { initialDelayMs: 100, maxDelayMs: 1_000 };

describe("publisher against a broker that starts late, runs out of memory and restarts", () => {
  let node: ThrowawayNode;
  let warren: Warren | undefined;
  const queue = "faults";

  beforeAll(async () => {
    node = await createThrowawayNode();
  });

  afterAll(async () => {
    await warren?.close();
    await node?.destroy();
  });

  it("connects once the broker comes up when the service starts first", async () => {
    const connecting = connect({
      url: node.url,
      serviceName: "late-broker",
      logger,
      backoff: fastBackoff,
      initialConnectDeadlineMs: 90_000,
    });
    let settled = false;
    void connecting.finally(() => {
      settled = true;
    });
    await sleep(1_500);
    expect(settled).toBe(false);
    await node.start();
    warren = await connecting;
    const model = await amqp.connect(node.url);
    const channel = await model.createChannel();
    await channel.assertQueue(queue, { durable: true });
    await model.close();
    await warren.publish(queue, { hello: "late broker" });
    expect(await readyCount(node.url, queue)).toBe(1);
  });

  it("fails fast with WARREN_PUBLISH_BLOCKED under a memory alarm, waits when asked, and recovers", async () => {
    if (warren === undefined) throw new Error("needs the client of the previous test");
    const waiting = await connect({
      url: node.url,
      serviceName: "blocked-waiter",
      logger,
      publisher: { blockedTimeoutMs: 30_000, timeoutMs: 30_000 },
    });
    try {
      await node.ctl("set_vm_memory_high_watermark", "0.0000001");
      // The broker blocks a connection when it next publishes: this probe is
      // written before the block and is confirmed once the alarm clears.
      const probe = warren.publish(queue, { probe: true }, { timeoutMs: 60_000 });
      await until(() => warren?.blocked === true, 15_000);
      expect(warren.blockedReason).toMatch(/memory/);

      const refused = await warren.publish(queue, { n: 1 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(PublishError);
      expect(refused).toMatchObject({ code: "WARREN_PUBLISH_BLOCKED", inDoubt: false });
      expect(warren.readiness().reasons.join()).toMatch(/blocked/);

      const waiterProbe = waiting.publish(queue, { waiter: "probe" });
      await until(() => waiting.blocked, 15_000);
      const waited = waiting.publish(queue, { waiter: true });

      await node.ctl("set_vm_memory_high_watermark", "0.4");
      await until(() => warren?.blocked === false, 15_000);
      await Promise.all([probe, waiterProbe, waited]);
      await warren.publish(queue, { after: "alarm" });
      // 1 from the first test, 2 probes, the waited one and the last one.
      expect(await readyCount(node.url, queue)).toBe(5);
    } finally {
      await node.ctl("set_vm_memory_high_watermark", "0.4");
      await waiting.close();
    }
  });

  it("rides out a broker stop and restart: publishes settle, none hangs, later ones succeed", async () => {
    if (warren === undefined) throw new Error("needs the client of the previous test");
    const client = warren;
    const before = await readyCount(node.url, queue);
    const outcomes: Promise<string>[] = [];
    const publishMany = (count: number) => {
      for (let i = 0; i < count; i++) {
        outcomes.push(
          client.publish(queue, { i }, { timeoutMs: 3_000 }).then(
            () => "confirmed",
            (error: PublishError) => error.code,
          ),
        );
      }
    };
    publishMany(200);
    const stopping = node.stop();
    publishMany(200);
    await stopping;
    publishMany(200); // while the broker is down: wait, then fail unsent
    const settled = await Promise.all(outcomes);
    expect(settled.length).toBe(600);
    for (const code of new Set(settled)) {
      expect([
        "confirmed",
        "WARREN_PUBLISH_CONNECTION_LOST",
        "WARREN_PUBLISH_NOT_CONNECTED",
        "WARREN_PUBLISH_TIMEOUT",
      ]).toContain(code);
    }
    expect(settled.slice(400)).toEqual(Array(200).fill("WARREN_PUBLISH_NOT_CONNECTED"));

    await node.start();
    await until(() => client.connected, 30_000);
    await client.publish(queue, { after: "restart" });
    const confirmed = settled.filter((code) => code === "confirmed").length;
    // Durable queue, persistent messages: every confirmed one survived.
    expect(await readyCount(node.url, queue)).toBeGreaterThanOrEqual(before + confirmed + 1);
  });
});
