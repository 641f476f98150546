/**
 * Scenarios 2, 3, 4, 6 and 9: faults of whole nodes of the cluster. Each
 * leaves every node running when it ends.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "../../support/cli.ts";
import { Scenario } from "../harness/scenario.ts";
import { allNodesUp, cluster, clusterEnv, expectPassed } from "./context.ts";

/** --url and --management-url with every node, the node `down` first. */
export function clusterUrls(down = 0): string[] {
  const c = cluster();
  const order = [down, ...c.nodes.map((_, i) => i).filter((i) => i !== down)];
  return [
    "--url",
    order.map((i) => c.urls[i]).join(","),
    "--management-url",
    order.map((i) => c.managementUrls[i]).join(","),
  ];
}

/** Messages per node-fault scenario. */
export const NODE_FAULT_MESSAGES = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes 1..count spread over time, in the background. */
function spread(s: Scenario, count = NODE_FAULT_MESSAGES) {
  return s.publish({ from: 1, to: count, window: 20, pauseMs: 100 });
}

export function nodeScenarios(): void {
  describe("2. the queue leader is killed (SIGKILL) and comes back", () => {
    it("loses nothing and runs nothing twice; clients on that node fail over; plan works with a node down", async () => {
      const s = await Scenario.start("02-leader-killed", clusterEnv());
      try {
        await Promise.all([s.startConsumer(), s.startConsumer(), s.startConsumer()]);
        const leader = await cluster().queueLeader(s.vhost, s.queue);
        const publishing = spread(s);
        await s.waitHandled(NODE_FAULT_MESSAGES / 5);
        await s.fault(`kill node ${leader + 1}`, () => cluster().kill(leader));
        // While the node is down: the CLI plans against the cluster's URLs.
        const plan = await runCli(["topology", "plan", s.topologyFile(), ...clusterUrls(leader)]);
        expect(plan.stderr).toBe("");
        expect(plan.code).toBe(0);
        expect(plan.stdout).toContain("No changes");
        await s.waitHandled(NODE_FAULT_MESSAGES / 2);
        await cluster().startNode(leader);
        await publishing;
        const report = await s.finish();
        expectPassed(report);
      } finally {
        await allNodesUp();
        await s.close();
      }
    });
  });
}
