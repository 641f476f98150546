import { afterEach, describe, expect, it } from "vitest";
import { management as managementApi } from "../../support/broker.ts";
import {
  freshVhost,
  management,
  ordersFile,
  publishTo,
  runCli,
  waitForMessages,
} from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Declares `queue` by hand through the management API, as an operator might have. */
async function precreate(vhost: string, queue: string, args: Record<string, unknown>) {
  // The run's own credentials (the management URL carries them); throws unless 2xx.
  await managementApi(`/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`, {
    method: "PUT",
    body: JSON.stringify({ durable: true, auto_delete: false, arguments: args }),
  });
}

describe("conflicts between the file and the broker", () => {
  it("refuses a retry tier pre-created with another TTL and leaves it and its messages alone", async () => {
    const { vhost, remove } = await freshVhost();
    cleanups.push(remove);
    const queue = "orders.fulfil.retry.10s";
    await precreate(vhost, queue, { "x-queue-type": "quorum", "x-message-ttl": 600000 });
    await publishTo(vhost, queue, 3);
    await waitForMessages(vhost, queue, 3);

    const plan = await runCli(["topology", "plan", ordersFile, "--vhost", vhost]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(new RegExp(`queue\\s+${queue.replaceAll(".", "\\.")}\\s+conflict`));
    expect(plan.stdout).toContain("x-message-ttl: file 10000, broker 600000");
    expect(plan.stdout).toContain("it holds 3 messages");
    expect(plan.stdout).toContain("rename it in the file");

    const apply = await runCli(["topology", "apply", ordersFile, "--vhost", vhost]);
    expect(apply.code).toBe(2);
    expect(apply.stderr).toContain(`queue "${queue}"`);
    expect(apply.stderr).toContain("x-message-ttl: file 10000, broker 600000");
    expect(apply.stderr).not.toMatch(/\n\s+at /);

    const client = management();
    const after = await client.getQueue(vhost, queue);
    expect(after?.arguments["x-message-ttl"]).toBe(600000);
    await waitForMessages(vhost, queue, 3);
    // Refused means refused: nothing else was declared either.
    expect((await client.listQueues(vhost)).map((q) => q.name)).toEqual([queue]);
    expect((await client.listExchanges(vhost)).map((e) => e.name)).not.toContain("orders");
  });

  it("refuses a queue pre-created with another type, naming x-queue-type and both values", async () => {
    const { vhost, remove } = await freshVhost();
    cleanups.push(remove);
    await precreate(vhost, "invoices", { "x-queue-type": "quorum" });
    await publishTo(vhost, "invoices", 2);
    await waitForMessages(vhost, "invoices", 2);

    const plan = await runCli(["topology", "plan", ordersFile, "--vhost", vhost, "--json"]);
    expect(plan.code).toBe(2);
    const result = JSON.parse(plan.stdout);
    const step = result.steps.find((s: { name: string }) => s.name === "invoices");
    expect(step).toMatchObject({ kind: "queue", status: "conflict", messages: 2 });
    expect(step.differences).toContainEqual({
      property: "x-queue-type",
      desired: "classic",
      actual: "quorum",
    });

    const apply = await runCli(["topology", "apply", ordersFile, "--vhost", vhost, "--json"]);
    expect(apply.code).toBe(2);
    expect(JSON.parse(apply.stdout)).toMatchObject({
      ok: false,
      error: { code: "WARREN_TOPOLOGY_CONFLICT" },
    });
    expect(apply.stderr).toContain('x-queue-type: file "classic", broker "quorum"');

    const after = await management().getQueue(vhost, "invoices");
    expect(after?.type).toBe("quorum");
    await waitForMessages(vhost, "invoices", 2);
  });
});
