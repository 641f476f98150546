/** Scenario 11: the work queue is deleted under running consumers, then restored by `warren topology apply`. */
import { describe, expect } from "vitest";
import { runCli } from "../../support/cli.ts";
import { clusterScenario, expectPassed } from "./context.ts";
import { clusterUrls, NODE_FAULT_MESSAGES } from "./node-faults.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function queueDeletedScenario(): void {
  describe("11. the queue is deleted under running consumers", () => {
    clusterScenario(
      "11-queue-deleted",
      "is restored by warren topology apply on the cluster; consumers resume, publishers retry, nothing confirmed is lost",
      async (s) => {
        await Promise.all([s.startConsumer(), s.startConsumer()]);
        const half = NODE_FAULT_MESSAGES / 2;
        await s.publish({ from: 1, to: half, window: 100 });
        await s.waitHandled(half);
        const path = `/api/queues/${encodeURIComponent(s.vhost)}/work`;
        await s.fault("delete the work queue", async () => {
          const response = await s.env.management(path, { method: "DELETE" });
          expect(response.ok).toBe(true);
        });
        // Publishes while the queue is gone are returned unroutable; the
        // harness retries them until the queue is back.
        const publishing = s.publish({ from: half + 1, to: NODE_FAULT_MESSAGES, window: 50 });
        await sleep(3_000);
        const plan = await runCli(["topology", "plan", s.topologyFile(), ...clusterUrls()]);
        expect(plan.code).toBe(2);
        const apply = await runCli(["topology", "apply", s.topologyFile(), ...clusterUrls()]);
        expect(apply.stderr).toBe("");
        expect(apply.code).toBe(0);
        await publishing;
        const report = await s.finish();
        expectPassed(report);
        expect(report.handled).toBe(NODE_FAULT_MESSAGES);
      },
    );
  });
}
