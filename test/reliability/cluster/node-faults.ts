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

  describe("3. the publisher's node is stopped gracefully mid-burst", () => {
    it("settles every publish; in-doubt publishes retried with the same messageId are suppressed by the guard", async () => {
      const s = await Scenario.start("03-publisher-node-stopped", clusterEnv());
      try {
        await Promise.all([s.startConsumer(), s.startConsumer()]);
        // The publisher connects to the first URL: node 1.
        const publishing = s.publish({ from: 1, to: NODE_FAULT_MESSAGES, window: 100 });
        await s.waitHandled(NODE_FAULT_MESSAGES / 10);
        await s.fault("stop node 1 (graceful)", () => cluster().stopNode(0));
        const published = await publishing;
        // Every publish settled: confirmed, or rejected and then retried until confirmed.
        expect(published.confirmed.size).toBe(NODE_FAULT_MESSAGES);
        expect(published.unconfirmed).toBe(0);
        await cluster().startNode(0);
        const report = await s.finish();
        expectPassed(report);
        console.log(`[reliability] 03 publish rejections: ${JSON.stringify(published.errors)}`);
      } finally {
        await allNodesUp();
        await s.close();
      }
    });
  });

  describe("4. a node is paused (SIGSTOP) past the net tick time, then resumed", () => {
    it("loses nothing and runs nothing twice while the others carry on", async () => {
      const s = await Scenario.start("04-node-paused", clusterEnv());
      try {
        await Promise.all([s.startConsumer(), s.startConsumer(), s.startConsumer()]);
        const leader = await cluster().queueLeader(s.vhost, s.queue);
        const publishing = spread(s);
        await s.waitHandled(NODE_FAULT_MESSAGES / 5);
        await s.fault(`pause node ${leader + 1}`, () => cluster().pause(leader));
        // Net tick time 8 s: the others declare it down after at most ~10 s.
        await sleep(15_000);
        await cluster().resume(leader);
        await publishing;
        const report = await s.finish();
        expectPassed(report);
      } finally {
        await allNodesUp();
        await s.close();
      }
    });
  });

  describe("6. the whole cluster restarts", () => {
    it("keeps every confirmed message: all are handled once after the restart", async () => {
      const s = await Scenario.start("06-cluster-restart", clusterEnv());
      try {
        const published = await s.publish({ from: 1, to: NODE_FAULT_MESSAGES, window: 200 });
        expect(published.confirmed.size).toBe(NODE_FAULT_MESSAGES);
        const c = cluster();
        await s.fault("stop all nodes, start them again", async () => {
          for (let index = c.nodes.length - 1; index >= 0; index--) await c.stopNode(index);
          await Promise.all(c.nodes.map((_, index) => c.startNode(index)));
        });
        // A node answers before it has recovered its vhosts; connections to
        // a vhost still down are refused. Wait until it runs on every node.
        const deadline = Date.now() + 180_000;
        for (;;) {
          const vhost = (await (
            await s.env.management(`/api/vhosts/${encodeURIComponent(s.vhost)}`)
          ).json()) as { cluster_state?: Record<string, string> };
          const states = Object.values(vhost.cluster_state ?? {});
          if (states.length === c.nodes.length && states.every((state) => state === "running")) {
            break;
          }
          if (Date.now() > deadline) throw new Error(`vhost not running: ${JSON.stringify(vhost)}`);
          await sleep(1_000);
        }
        await Promise.all([s.startConsumer(), s.startConsumer()]);
        const report = await s.finish();
        expectPassed(report);
        expect(report.handled).toBe(NODE_FAULT_MESSAGES);
      } finally {
        await allNodesUp();
        await s.close();
      }
    });
  });

  describe("9. memory alarm on one node", () => {
    it("lets consumers keep draining; every publish settles once it clears; nothing lost", async () => {
      const s = await Scenario.start("09-memory-alarm", clusterEnv());
      try {
        // Slow consumers, so that a backlog is left to drain during the alarm.
        await Promise.all([
          s.startConsumer({ handlerDelayMs: 40 }),
          s.startConsumer({ handlerDelayMs: 40 }),
        ]);
        const warren = await s.publisher();
        const events: string[] = [];
        warren.on("blocked", () => events.push("blocked"));
        warren.on("unblocked", () => events.push("unblocked"));
        const first = await s.publish({ from: 1, to: NODE_FAULT_MESSAGES / 2, window: 200 });
        expect(first.confirmed.size).toBe(NODE_FAULT_MESSAGES / 2);
        const before = await s.handledCount();
        expect(before).toBeLessThan(NODE_FAULT_MESSAGES / 2);
        await s.fault("memory alarm on node 2", () => cluster().memoryAlarm(1, true));
        const publishing = s.publish({
          from: NODE_FAULT_MESSAGES / 2 + 1,
          to: NODE_FAULT_MESSAGES,
        });
        await sleep(8_000);
        // Consumers drained while publishers were blocked.
        expect(await s.handledCount()).toBeGreaterThan(before);
        await cluster().memoryAlarm(1, false);
        await publishing;
        // Not asserted: in the last full run the publisher (on node 1) saw no
        // `blocked` event from the alarm on node 2 (docs/reliability.md).
        console.log(`[reliability] 09 publisher events: ${JSON.stringify(events)}`);
        const report = await s.finish();
        expectPassed(report);
      } finally {
        await cluster()
          .memoryAlarm(1, false)
          .catch(() => undefined);
        await allNodesUp();
        await s.close();
      }
    });
  });
}
