/**
 * Scenarios 2, 3, 4, 6 and 9: faults of whole nodes of the cluster. Each
 * leaves every node running when it ends (clusterScenario's cleanup).
 */
import { describe, expect } from "vitest";
import { runCli } from "../../support/cli.ts";
import type { Scenario } from "../harness/scenario.ts";
import { cluster, clusterScenario, expectPassed } from "./context.ts";

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

/**
 * The steps scenarios 2 and 4 share: a consumer on every node, publishing
 * spread over time, the fault injected on the node that leads the queue once
 * a fifth is handled, `recover` (what happens while the node is out, and
 * bringing it back), then the shared pass criteria.
 */
async function faultTheLeader(
  s: Scenario,
  fault: { label: string; inject(leader: number): Promise<void> | void },
  recover: (leader: number) => Promise<void>,
): Promise<void> {
  await Promise.all([s.startConsumer(), s.startConsumer(), s.startConsumer()]);
  const leader = await cluster().queueLeader(s.vhost, s.queue);
  const publishing = s.publish({ from: 1, to: NODE_FAULT_MESSAGES, window: 20, pauseMs: 100 });
  await s.waitHandled(NODE_FAULT_MESSAGES / 5);
  await s.fault(`${fault.label} node ${leader + 1}`, () => fault.inject(leader));
  await recover(leader);
  await publishing;
  expectPassed(await s.finish());
}

/** Resolves once `events` holds `name`; rejects after `timeoutMs`. */
async function waitForEvent(events: string[], name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!events.includes(name)) {
    if (Date.now() > deadline) {
      throw new Error(`no "${name}" event in ${timeoutMs} ms (events: ${events.join(", ")})`);
    }
    await sleep(100);
  }
}

export function nodeScenarios(): void {
  describe("2. the queue leader is killed (SIGKILL) and comes back", () => {
    clusterScenario(
      "02-leader-killed",
      "loses nothing and runs nothing twice; clients on that node fail over; plan works with a node down",
      (s) =>
        faultTheLeader(
          s,
          { label: "kill", inject: (leader) => cluster().kill(leader) },
          async (leader) => {
            // While the node is down: the CLI plans against the cluster's URLs.
            const plan = await runCli([
              "topology",
              "plan",
              s.topologyFile(),
              ...clusterUrls(leader),
            ]);
            expect(plan.stderr).toBe("");
            expect(plan.code).toBe(0);
            expect(plan.stdout).toContain("No changes");
            await s.waitHandled(NODE_FAULT_MESSAGES / 2);
            await cluster().startNode(leader);
          },
        ),
    );
  });

  describe("3. the publisher's node is stopped gracefully mid-burst", () => {
    clusterScenario(
      "03-publisher-node-stopped",
      "settles every publish; in-doubt publishes retried with the same messageId are suppressed by the guard",
      async (s) => {
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
      },
    );
  });

  describe("4. a node is paused (SIGSTOP) past the net tick time, then resumed", () => {
    clusterScenario(
      "04-node-paused",
      "loses nothing and runs nothing twice while the others carry on",
      (s) =>
        faultTheLeader(
          s,
          { label: "pause", inject: (leader) => cluster().pause(leader) },
          async (leader) => {
            // Net tick time 8 s: the others declare it down after at most ~10 s.
            await sleep(15_000);
            const heals = cluster().heals.length;
            await cluster().resume(leader);
            // The cluster heals (pause_minority, or the operator's restart of
            // the minority's app when that does not come): consumers and
            // publishers carry on through it.
            await cluster().waitWhole();
            const healed = cluster().heals.slice(heals);
            console.log(
              `[reliability] 04 after the resume: ${healed.length === 0 ? "the cluster healed by itself" : `partition ended by restarting the app of ${healed.join("; ")}`}`,
            );
          },
        ),
    );
  });

  describe("6. the whole cluster restarts", () => {
    clusterScenario(
      "06-cluster-restart",
      "keeps every confirmed message: all are handled once after the restart",
      async (s) => {
        const published = await s.publish({ from: 1, to: NODE_FAULT_MESSAGES, window: 200 });
        expect(published.confirmed.size).toBe(NODE_FAULT_MESSAGES);
        const c = cluster();
        await s.fault("stop all nodes, start them again", async () => {
          for (let index = c.nodes.length - 1; index >= 0; index--) await c.stopNode(index);
          await Promise.all(c.nodes.map((_, index) => c.startNode(index)));
        });
        await s.waitVhostRunning(180_000);
        await Promise.all([s.startConsumer(), s.startConsumer()]);
        const report = await s.finish();
        expectPassed(report);
        expect(report.handled).toBe(NODE_FAULT_MESSAGES);
      },
    );
  });

  describe("9. memory alarm on the publisher's node", () => {
    clusterScenario(
      "09-memory-alarm",
      "blocks the publisher connected there (blocked event, publishes refused with WARREN_PUBLISH_BLOCKED) while consumers keep draining; it recovers when the alarm clears; nothing lost",
      async (s) => {
        // The publisher connects to the first URL: node 1, the node with the alarm.
        const warren = await s.publisher();
        const events: string[] = [];
        warren.on("blocked", () => events.push("blocked"));
        warren.on("unblocked", () => events.push("unblocked"));
        // A backlog for the consumers to drain while the publisher is
        // blocked: the first half is published before they start, and
        // they are slow (200 ms a message, 4 lanes: about 20 messages/s).
        const first = await s.publish({ from: 1, to: NODE_FAULT_MESSAGES / 2, window: 200 });
        expect(first.confirmed.size).toBe(NODE_FAULT_MESSAGES / 2);
        expect(events).toEqual([]);
        await Promise.all([
          s.startConsumer({ handlerDelayMs: 200 }),
          s.startConsumer({ handlerDelayMs: 200 }),
        ]);
        try {
          await s.fault("memory alarm on node 1", () => cluster().memoryAlarm(0, true));
          const publishing = s.publish({
            from: NODE_FAULT_MESSAGES / 2 + 1,
            to: NODE_FAULT_MESSAGES,
          });
          // The broker blocks the connection on its next publish and says so.
          await waitForEvent(events, "blocked", 30_000);
          expect(warren.blocked).toBe(true);
          // A publish while blocked is refused at once (blockedTimeoutMs 0),
          // never sent; the publishes already written wait for the unblock.
          await expect(
            warren.publish(s.queue, { seq: 0 }, { messageId: `${s.run}:probe` }),
          ).rejects.toMatchObject({ code: "WARREN_PUBLISH_BLOCKED" });
          // Consumers keep draining while the publisher is blocked.
          const before = await s.handledCount();
          expect(before).toBeLessThan(NODE_FAULT_MESSAGES / 2 - 50);
          await s.waitHandled(before + 50, 30_000);
          expect(events).toEqual(["blocked"]);
          await cluster().memoryAlarm(0, false);
          await waitForEvent(events, "unblocked", 30_000);
          expect(warren.blocked).toBe(false);
          const second = await publishing;
          // Every publish of the burst settled: confirmed after the unblock, or
          // refused or timed out while blocked and retried by the caller.
          expect(second.confirmed.size).toBe(NODE_FAULT_MESSAGES / 2);
          expect(second.unconfirmed).toBe(0);
          console.log(
            `[reliability] 09 publisher events: ${JSON.stringify(events)}; rejections: ${JSON.stringify(second.errors)}`,
          );
        } finally {
          await cluster()
            .memoryAlarm(0, false)
            .catch(() => undefined);
        }
        expectPassed(await s.finish());
      },
    );
  });
}
