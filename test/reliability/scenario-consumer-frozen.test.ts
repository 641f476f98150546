/**
 * Scenario 8: a consumer process frozen (SIGSTOP) past its heartbeat, then
 * resumed: the broker hands its messages to a peer, and its late ack is harmless.
 */
import { describe, expect, it } from "vitest";
import { Scenario } from "./harness/scenario.ts";
import { expectPassed, singleBrokerEnv } from "./harness/single-broker.ts";

const MESSAGES = 600;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("8. consumer process frozen past the heartbeat", () => {
  it("lets a peer take over its messages; after SIGCONT it carries on and nothing runs twice", async () => {
    const s = await Scenario.start("08-consumer-frozen", singleBrokerEnv(), { leaseMs: 3_000 });
    try {
      const options = { handlerDelayMs: 20, heartbeatSeconds: 2 };
      const [frozen] = await Promise.all([s.startConsumer(options), s.startConsumer(options)]);
      const publishing = s.publish({ from: 1, to: MESSAGES, window: 20, pauseMs: 100 });
      await s.waitHandled(100);
      await s.fault(`SIGSTOP ${frozen.name}`, () => frozen.signal("SIGSTOP"));
      // Heartbeat 2 s: the broker gives up on the connection after ~4-6 s.
      await sleep(12_000);
      frozen.signal("SIGCONT");
      await publishing;
      const report = await s.finish();
      expectPassed(report);
      expect(report.handled).toBe(MESSAGES);
      expect(frozen.alive || (await frozen.exited) === "exit 0").toBe(true);
    } finally {
      await s.close();
    }
  });
});
