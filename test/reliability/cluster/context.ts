/**
 * The cluster and PostgreSQL shared by every cluster scenario of one run,
 * started once by cluster.test.ts. Scenario modules read them from here.
 */
import { expect, it } from "vitest";
import type { LocalCluster } from "../../../src/testing/broker-cluster.ts";
import { managementRequest } from "../../../src/testing/management.ts";
import { type Report, Scenario, type ScenarioEnv } from "../harness/scenario.ts";

export const shared: { cluster?: LocalCluster; databaseUrl?: string } = {};

export function cluster(): LocalCluster {
  if (shared.cluster === undefined) throw new Error("the cluster is not started");
  return shared.cluster;
}

/** The scenario environment: every node of the cluster. */
export function clusterEnv(): ScenarioEnv {
  const c = cluster();
  return {
    urls: c.urls,
    managementUrls: c.managementUrls,
    databaseUrl: shared.databaseUrl ?? "",
    management: (path, init) => c.management(path, init),
    where: `${c.nodes.length}-node cluster`,
    diagnose: async (vhost) => {
      const answers: string[] = [];
      for (const node of c.nodes) {
        let answer: string;
        try {
          const path = `/api/vhosts/${encodeURIComponent(vhost)}`;
          const response = await managementRequest(node.managementUrl, path, { timeoutMs: 3_000 });
          answer = `HTTP ${response.status} ${(await response.text()).slice(0, 300)}`;
        } catch (error) {
          answer = String(error);
        }
        answers.push(`${node.name} (${node.running ? "up" : "down"}): GET vhost: ${answer}`);
      }
      return `${answers.join("\n")}\n${c.logs()}`;
    },
    // The step that released a held copy in each occurrence seen
    // (docs/reliability.md): the tier's new leader starts a dead-letter
    // worker of its own, which sends the copy again. The time reported
    // includes waiting for the cluster to be whole.
    releaseHeldCopies: async (vhost, queue) => {
      const leader = await c.queueLeader(vhost, queue);
      const started = Date.now();
      await c.restartApp(leader);
      await c.waitWhole();
      return `restarted the RabbitMQ application of ${c.nodes[leader]?.name}, the leader of ${queue}, in ${Date.now() - started} ms`;
    },
  };
}

/** The pass criteria every scenario shares. */
export function expectPassed(report: Report): void {
  expect(report.unhandled).toEqual([]);
  expect(report.lost).toBe(0);
  expect(report.duplicateExecutions).toBe(0);
  expect(report.confirmed).toBeGreaterThan(0);
}

/**
 * Starts every node that is down, resumes every paused one, and waits
 * until the cluster is whole (no node down, no partition).
 */
export async function allNodesUp(): Promise<void> {
  const c = cluster();
  for (let index = 0; index < c.nodes.length; index++) await c.resume(index);
  await Promise.all(c.nodes.map((_, index) => c.startNode(index)));
  await c.waitWhole();
}

/**
 * One cluster scenario as a test: a {@link Scenario} of its own, and
 * afterwards, whatever happened, every node up again and the scenario
 * closed, so the next scenario starts on a whole cluster.
 */
export function clusterScenario(
  name: string,
  title: string,
  body: (s: Scenario) => Promise<void>,
): void {
  it(title, async () => {
    const s = await Scenario.start(name, clusterEnv());
    try {
      await body(s);
    } finally {
      await allNodesUp();
      await s.close();
    }
  });
}
