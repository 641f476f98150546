import { afterEach, describe, expect, it } from "vitest";
import { compileTopology } from "../../../src/topology/compile.ts";
import { loadTopology } from "../../../src/topology/load.ts";
import type { CompiledTopology } from "../../../src/topology/model.ts";
import { freshVhost, management, managementBase, ordersFile, runCli, urlFor } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function compiledOrders(): Promise<CompiledTopology> {
  return compileTopology(await loadTopology(ordersFile));
}

describe("warren topology apply", () => {
  it("creates the vhost and every object of orders.yaml with its arguments, then reports no changes", async () => {
    const { vhost, remove } = await freshVhost(false);
    cleanups.push(remove);
    const compiled = await compiledOrders();

    const before = await runCli(["topology", "plan", ordersFile, "--vhost", vhost]);
    expect(before.code).toBe(2);
    expect(before.stdout).toMatch(/vhost\s+\S+\s+create/);
    expect(await management().vhostExists(vhost)).toBe(false);

    const first = await runCli(["topology", "apply", ordersFile, "--vhost", vhost]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const objects =
      1 + compiled.exchanges.length + compiled.queues.length + compiled.bindings.length; // the vhost too
    expect(first.stdout).toContain(`Created ${objects} objects in vhost "${vhost}"`);

    const client = management();
    const exchanges = await client.listExchanges(vhost);
    for (const exchange of compiled.exchanges) {
      const found = exchanges.find((e) => e.name === exchange.name);
      expect(found, exchange.name).toMatchObject({
        type: exchange.type,
        durable: true,
        auto_delete: false,
      });
    }
    expect(exchanges.find((e) => e.name === "orders")?.type).toBe("topic");
    expect(exchanges.find((e) => e.name === "notifications")?.type).toBe("fanout");
    expect(exchanges.find((e) => e.name === "billing")?.type).toBe("direct");

    for (const queue of compiled.queues) {
      const found = await client.getQueue(vhost, queue.name);
      expect(found, queue.name).toBeDefined();
      expect(found?.durable).toBe(true);
      expect(found?.type).toBe(queue.type);
      expect(found?.arguments, queue.name).toEqual(queue.arguments);
    }
    const fulfil = await client.getQueue(vhost, "orders.fulfil");
    expect(fulfil?.arguments).toMatchObject({
      "x-queue-type": "quorum",
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "orders.fulfil.dlq",
      "x-delivery-limit": 5,
      "x-max-length": 100000,
      "x-overflow": "reject-publish",
    });
    for (const [tier, ttl] of [
      ["1s", 1000],
      ["10s", 10000],
      ["1m", 60000],
    ] as const) {
      const retry = await client.getQueue(vhost, `orders.fulfil.retry.${tier}`);
      expect(retry?.arguments).toMatchObject({
        "x-queue-type": "quorum",
        "x-message-ttl": ttl,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "orders.fulfil",
      });
    }
    expect((await client.getQueue(vhost, "email.send"))?.type).toBe("quorum");
    expect((await client.getQueue(vhost, "invoices"))?.type).toBe("classic");
    expect((await client.getQueue(vhost, "invoices.dlq"))?.type).toBe("classic");

    const bindings = (await client.listBindings(vhost)).filter((b) => b.source !== "");
    const key = (b: { source: string; destination: string; routing_key: string }) =>
      `${b.source}->${b.destination}:${b.routing_key}`;
    expect(bindings.map(key).sort()).toEqual(
      compiled.bindings.map((b) => key({ ...b, routing_key: b.routingKey })).sort(),
    );

    const second = await runCli(["topology", "apply", ordersFile, "--vhost", vhost, "--json"]);
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout);
    expect(result).toMatchObject({ ok: true, vhost, changed: false, created: [] });

    const plan = await runCli([
      "topology",
      "plan",
      ordersFile,
      "--url",
      urlFor(vhost),
      "--management-url",
      managementBase,
    ]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("No changes");
  });

  it("prints the plan and declares nothing with --dry-run", async () => {
    const { vhost, remove } = await freshVhost();
    cleanups.push(remove);
    const run = await runCli(["topology", "apply", ordersFile, "--vhost", vhost, "--dry-run"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/queue\s+orders\.fulfil\s+create/);
    expect(run.stdout).toContain("Dry run: nothing declared");
    expect(await management().listQueues(vhost)).toEqual([]);
  });
});
