/**
 * A partitioned queue through the CLI on a real broker (with the
 * consistent-hash plugin, as the throwaway brokers enable it): plan shows the
 * hash exchange, the partitions and their arguments; apply declares them;
 * a second plan has nothing to do; and the exported definitions, imported
 * into another vhost, need no changes either.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freshVhost, management, runCli } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const file = [
  "exchanges:",
  "  orders: { type: topic }",
  "queues:",
  "  orders.fulfil:",
  "    partitions: 3",
  "    partitionBy: { header: orderId }",
  "    bindings:",
  '      - { exchange: orders, routingKey: "order.*" }',
  "    retry: { delays: [1s, 10s] }",
  "",
].join("\n");

describe("partitioned queues with warren topology", () => {
  it("plans, applies, re-plans with no changes, and round-trips through export", async () => {
    const target = await freshVhost(false);
    const imported = await freshVhost();
    cleanups.push(target.remove, imported.remove);
    const dir = await mkdtemp(join(tmpdir(), "warren-partitions-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, "topology.yaml");
    await writeFile(path, file);

    const plan = await runCli(["topology", "plan", path, "--vhost", target.vhost]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain("orders.fulfil.partitions");
    expect(plan.stdout).toContain('x-consistent-hash (partitions by header "orderId")');
    expect(plan.stdout).toContain("partition of orders.fulfil (single active consumer");
    expect(plan.stdout).toContain("orders.fulfil.p2.retry.10s");

    expect((await runCli(["topology", "apply", path, "--vhost", target.vhost])).code).toBe(0);
    const client = management();
    const exchange = (await client.listExchanges(target.vhost)).find(
      (e) => e.name === "orders.fulfil.partitions",
    );
    expect(exchange?.type).toBe("x-consistent-hash");
    expect(exchange?.arguments).toEqual({ "hash-header": "orderId" });
    const p1 = (await client.listQueues(target.vhost)).find((q) => q.name === "orders.fulfil.p1");
    expect(p1?.arguments["x-single-active-consumer"]).toBe(true);
    expect(p1?.arguments["x-dead-letter-routing-key"]).toBe("orders.fulfil.dlq");
    expect((await runCli(["topology", "plan", path, "--vhost", target.vhost])).code).toBe(0);

    const output = join(dir, "definitions.json");
    const exported = await runCli([
      "topology",
      "export",
      path,
      "--output",
      output,
      "--vhost",
      imported.vhost,
    ]);
    expect(exported.code).toBe(0);
    await client.importDefinitions(imported.vhost, JSON.parse(await readFile(output, "utf8")));
    const replan = await runCli(["topology", "plan", path, "--vhost", imported.vhost]);
    expect(replan.code).toBe(0);
  });
});
