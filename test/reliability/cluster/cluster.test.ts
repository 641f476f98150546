/**
 * The cluster scenarios of the reliability suite (docs/reliability.md), on
 * one local three-node RabbitMQ cluster started once for all of them and
 * one PostgreSQL. They run one after another: each injects faults on the
 * shared cluster and leaves every node running when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, startLocalCluster } from "../../../src/testing/broker-cluster.ts";
import { findOrStartPostgres, type Postgres } from "../../../src/testing/postgres.ts";
import { baselineScenario } from "./baseline.ts";
import { cluster, shared } from "./context.ts";
import { nodeScenarios } from "./node-faults.ts";
import { queueDeletedScenario } from "./queue-deleted.ts";

let postgres: Postgres | undefined;
let formedInMs = 0;
// Kept so that afterAll stops a cluster even when beforeAll timed out
// waiting for it.
let starting: Promise<LocalCluster> | undefined;

/**
 * Forms the cluster, once more if the first formation fails (logged: the
 * figures say how long formation took, and a second try is not hidden).
 */
async function formCluster(): Promise<LocalCluster> {
  try {
    return await startLocalCluster();
  } catch (error) {
    console.log(`[reliability] the cluster did not form, trying once more: ${String(error)}`);
    return startLocalCluster();
  }
}

beforeAll(async () => {
  const started = Date.now();
  starting = formCluster();
  const [formed, pg] = await Promise.all([starting, findOrStartPostgres()]);
  formedInMs = Date.now() - started;
  shared.cluster = formed;
  postgres = pg;
  shared.databaseUrl = pg.url;
  console.log(`[reliability] cluster of ${formed.nodes.length} nodes formed in ${formedInMs} ms`);
});

afterAll(async () => {
  for (const retry of shared.cluster?.bootRetries ?? []) {
    console.log(`[reliability] a node's boot exited and was tried again: ${retry}`);
  }
  await starting?.then((c) => c.stop()).catch(() => undefined);
  await postgres?.stop();
});

describe("the local cluster", () => {
  it("has three running nodes joined into one cluster, management on each", async () => {
    for (const node of cluster().nodes) {
      const response = await fetch(
        new URL("/api/nodes", node.managementUrl.replace("guest:guest@", "")),
        {
          headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` },
        },
      );
      const nodes = (await response.json()) as { name: string; running: boolean }[];
      expect(
        nodes
          .filter((n) => n.running)
          .map((n) => n.name)
          .sort(),
      ).toEqual(
        cluster()
          .nodes.map((n) => n.name)
          .sort(),
      );
    }
  });
});

baselineScenario();
nodeScenarios();
queueDeletedScenario();
