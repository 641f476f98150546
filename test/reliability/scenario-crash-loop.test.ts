/**
 * Scenario 10: a message that crashes every consumer process that takes it
 * ends in the DLQ; a supervisor restarts the crashed processes and the
 * service keeps handling the others.
 *
 * With the idempotency guard, each crash leaves the key leased, and the
 * redelivered copy finds it in progress. Before the fix this scenario found,
 * the runtime then sent a fresh copy through the retry tier on the same
 * attempt: the broker's delivery count started again from zero and the loop
 * never ended. Now a redelivery that finds its key in progress counts as a
 * failed attempt (HolderLostError), so the message is dead-lettered after
 * `maxAttempts` with warren's failure headers. (Without a guard the broker's
 * delivery limit ends the loop: consumer-crash-loop.test.ts.)
 */
import { describe, expect, it } from "vitest";
import type { ConsumerProcess } from "./harness/consumers.ts";
import { Scenario } from "./harness/scenario.ts";
import { expectPassed, singleBrokerEnv } from "./harness/single-broker.ts";

const MESSAGES = 400;
const POISON = 50;

describe("10. crash-loop message", () => {
  it("is dead-lettered after maxAttempts crashes while the other messages are handled", async () => {
    const s = await Scenario.start("10-crash-loop", singleBrokerEnv(), {
      leaseMs: 2_000,
      deliveryLimit: 3,
    });
    let crashes = 0;
    let stopping = false;
    const supervise = (consumer: ConsumerProcess) => {
      void consumer.exited.then(async (why) => {
        if (stopping || why !== "SIGKILL") return;
        crashes++;
        s.faults.push({ at: Date.now(), label: `${consumer.name} crashed` });
        supervise(await s.startConsumer({ crashOn: [POISON] }, false));
      });
    };
    try {
      for (let i = 0; i < 2; i++) supervise(await s.startConsumer({ crashOn: [POISON] }, false));
      await s.publish({ from: 1, to: MESSAGES, window: 50, pauseMs: 100 });
      await s.waitHandled(MESSAGES - 1, 180_000);
      const deadline = Date.now() + 120_000;
      while (!(await s.deadLettered()).includes(POISON) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      stopping = true;
      const report = await s.finish({ deadLettered: 1 });
      expectPassed(report);
      expect(report.deadLettered).toBe(1);
      // Either warren ended the loop (a redelivery found the key in progress
      // maxAttempts times) or the broker did (the lease had expired before
      // the redelivery, so each crash was a delivery of the same copy).
      const [dead] = await s.deadLetters();
      const reason = dead?.headers["warren-reason"] ?? "broker delivery limit";
      console.log(`[reliability] 10 poison message dead-lettered by: ${String(reason)}`);
      if (dead?.headers["warren-reason"] === undefined) {
        expect(JSON.stringify(dead?.headers["x-death"])).toContain("delivery_limit");
      } else {
        expect(dead.headers).toMatchObject({
          "warren-reason": "retries-exhausted",
          "warren-error-type": "HolderLostError",
        });
      }
      expect(report.handled).toBe(MESSAGES - 1);
      expect(crashes).toBeGreaterThanOrEqual(3);
    } finally {
      stopping = true;
      await s.close();
    }
  });
});
