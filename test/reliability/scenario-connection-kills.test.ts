/** Scenario 5: the consumer connection is killed 10 times mid-handler (management API). */
import { describe, expect, it } from "vitest";
import { Scenario } from "./harness/scenario.ts";
import { closeConnections, expectPassed, singleBrokerEnv } from "./harness/single-broker.ts";

const MESSAGES = 600;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("5. consumer connection killed 10 times mid-handler", () => {
  it("loses nothing and runs nothing twice; the consumers reconnect each time", async () => {
    const s = await Scenario.start("05-connection-kills", singleBrokerEnv());
    try {
      await Promise.all([
        s.startConsumer({ handlerDelayMs: 20 }),
        s.startConsumer({ handlerDelayMs: 20 }),
      ]);
      const publishing = s.publish({ from: 1, to: MESSAGES, window: 20, pauseMs: 100 });
      await s.waitHandled(20);
      let kills = 0;
      for (let tries = 0; kills < 10 && tries < 400; tries++) {
        // The management API lists a connection about a second after it
        // opens: a try right after a reconnect may find none yet.
        const closed = await closeConnections(s.env, `${s.name}-consumer`);
        if (closed > 0) {
          kills++;
          s.faults.push({ at: Date.now(), label: `consumer connections killed (${kills})` });
          await sleep(1_500);
        } else await sleep(300);
      }
      expect(kills).toBe(10);
      await publishing;
      const report = await s.finish();
      expectPassed(report);
      expect(report.handled).toBe(MESSAGES);
    } finally {
      await s.close();
    }
  });
});
