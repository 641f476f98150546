import { afterEach, describe, expect, it } from "vitest";
import { resolveEndpoint } from "../../../src/connection/endpoint.ts";
import { TopologyError } from "../../../src/errors.ts";
import { ManagementClient } from "../../../src/management/client.ts";
import { executePlanSteps, planAgainstBroker } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { loadTopology } from "../../../src/topology/load.ts";
import { management as managementApi } from "../../support/broker.ts";
import { amqpUrl, freshVhost, management, managementUrl, ordersFile } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("a conflict that appears after planning", () => {
  it("becomes WARREN_TOPOLOGY_CONFLICT naming the queue, and the rest is still declared", async () => {
    const { vhost, remove } = await freshVhost();
    cleanups.push(remove);
    const options = { url: amqpUrl, managementUrl, vhost };
    const plan = await planAgainstBroker(compileTopology(await loadTopology(ordersFile)), options);
    expect(plan.hasConflicts).toBe(false);

    // Another process declares one of the queues, differently, before we execute.
    const client = management();
    await managementApi(`/api/queues/${encodeURIComponent(vhost)}/orders.fulfil.retry.1s`, {
      method: "PUT",
      body: JSON.stringify({
        durable: true,
        arguments: { "x-queue-type": "quorum", "x-message-ttl": 2000 },
      }),
    });

    const endpoint = await resolveEndpoint(options);
    const steps = executePlanSteps(plan, endpoint, ManagementClient.fromEndpoint(endpoint));
    const error = await steps.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TopologyError);
    expect((error as TopologyError).code).toBe("WARREN_TOPOLOGY_CONFLICT");
    expect((error as Error).message).toContain('queue "orders.fulfil.retry.1s"');
    expect((error as Error).message).toContain("PRECONDITION_FAILED");

    expect(
      (await client.getQueue(vhost, "orders.fulfil.retry.1s"))?.arguments["x-message-ttl"],
    ).toBe(2000);
    // The channel the broker closed was replaced: later objects exist.
    expect(await client.getQueue(vhost, "invoices.dlq")).toBeDefined();
    const bindings = await client.listBindings(vhost);
    expect(bindings.some((b) => b.source === "billing" && b.destination === "invoices")).toBe(true);
  });
});
