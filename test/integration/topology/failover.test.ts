/**
 * The CLI and the library take the nodes of a cluster as a list and fail
 * over to the next node when one does not answer. Here the first "node" is
 * a port nothing listens on, the second the run's broker: every command
 * must succeed through the second. (The three-node cluster suite runs the
 * same commands against a real cluster with a node down.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManagementClient } from "../../../src/management/client.ts";
import { freePort } from "../../../src/testing/ports.ts";
import { amqpUrl, freshVhost, management, managementBase, ordersFile, runCli } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function deadUrls(): Promise<{ amqp: string; http: string }> {
  const port = await freePort();
  const amqp = new URL(amqpUrl);
  amqp.port = String(port);
  amqp.pathname = "";
  return { amqp: amqp.toString().replace(/\/$/, ""), http: `http://127.0.0.1:${port}` };
}

// Each case runs the CLI once or twice (a node process each): slow on a busy machine.
describe("several broker URLs", { timeout: 180_000 }, () => {
  it("apply and plan go through the next node when the first does not answer (--url repeated)", async () => {
    const { vhost, remove } = await freshVhost(false);
    cleanups.push(remove);
    const dead = await deadUrls();
    const urls = ["--url", dead.amqp, "--url", amqpUrl];
    const mgmt = ["--management-url", dead.http, "--management-url", managementBase];

    const applied = await runCli([
      "topology",
      "apply",
      ordersFile,
      "--vhost",
      vhost,
      ...urls,
      ...mgmt,
    ]);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(await management().getQueue(vhost, "orders.fulfil")).toBeDefined();

    const planned = await runCli([
      "topology",
      "plan",
      ordersFile,
      "--vhost",
      vhost,
      ...urls,
      ...mgmt,
    ]);
    expect(planned.code).toBe(0);
    expect(planned.stdout).toContain("No changes");
  });

  it("reads the nodes from RABBITMQ_URL and RABBITMQ_MANAGEMENT_URL separated by commas", async () => {
    const { vhost, remove } = await freshVhost(false);
    cleanups.push(remove);
    const dead = await deadUrls();
    const applied = await runCli(["topology", "apply", ordersFile, "--vhost", vhost], {
      RABBITMQ_URL: `${dead.amqp},${amqpUrl}`,
      RABBITMQ_MANAGEMENT_URL: `${dead.http}, ${managementBase}`,
    });
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
  });

  it("fails with every node's reason when none answers, and no password in the output", async () => {
    const [a, b] = [await deadUrls(), await deadUrls()];
    const secret = (url: string) => url.replace("guest:guest@", "guest:s3cr3t@");
    const result = await runCli(
      ["topology", "plan", ordersFile, "--url", `${secret(a.amqp)},${secret(b.amqp)}`],
      { RABBITMQ_MANAGEMENT_URL: undefined },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no node of the management API answered");
    // One line per node: the management URLs derived from the two AMQP URLs.
    expect(
      result.stderr.match(/management API at http:\/\/127\.0\.0\.1:15672 is unreachable/g),
    ).toHaveLength(2);
    expect(result.stderr).not.toContain("s3cr3t");
  });

  it("the management client stays on the node that answered", async () => {
    const dead = await deadUrls();
    const base = new URL(managementBase);
    const url = new URL(amqpUrl);
    const client = new ManagementClient({
      url: [dead.http, managementBase],
      username: decodeURIComponent(url.username || "guest"),
      password: decodeURIComponent(url.password || "guest"),
    });
    expect(await client.vhostExists("/")).toBe(true);
    expect(client.url).toBe(base.toString().replace(/\/$/, ""));
  });
});
