/**
 * The cluster scenarios of the reliability suite (docs/reliability.md), on
 * one local three-node RabbitMQ cluster started once for all of them and
 * one PostgreSQL. They run one after another: each injects faults on the
 * shared cluster and leaves every node running when it ends.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
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
  for (const heal of shared.cluster?.heals ?? []) {
    console.log(`[reliability] a partition outlasted 20 s; restarted the app of ${heal}`);
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
    // Every node lists every node running and no partition.
    await cluster().waitWhole({ timeoutMs: 10_000 });
  });
});

describe("the local cluster fixture", () => {
  it("boots a node again when its boot exits by itself, at most twice, then reports its log", async () => {
    const c = cluster();
    const index = c.nodes.length - 1;
    const name = c.nodes[index]!.name;
    const config = join(c.dir, name.split("@")[0]!, "rabbitmq.conf");
    const good = await readFile(config, "utf8");
    await c.stopNode(index);
    // A configuration the node cannot parse: every boot exits at once, and
    // the error carries the node's own words (the tail of its logs).
    await writeFile(config, `${good}this line is not a setting\n`);
    const retriesBefore = c.bootRetries.length;
    await expect(c.startNode(index)).rejects.toThrow(
      /did not start: it exited[\s\S]*failed_to_parse_configuration_file/,
    );
    expect(c.bootRetries.slice(retriesBefore)).toHaveLength(2);
    expect(c.bootRetries.at(-1)).toContain(name);
    await writeFile(config, good);
    await c.startNode(index);
    expect(c.nodes[index]!.running).toBe(true);
  });
});

baselineScenario();
nodeScenarios();
queueDeletedScenario();
