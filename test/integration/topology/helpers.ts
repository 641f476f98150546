import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import type { ManagementClient } from "../../../src/management/client.ts";
import { brokerUrls, brokerUser, managementClient, vhostUrl } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The run's broker, from the global setup (test/support/global-setup.ts): the only source. */
export const { url: amqpUrl, managementUrl } = brokerUrls();

/**
 * The management URL without credentials: what a user passes next to
 * `--url`, whose credentials the CLI then uses for the management API too.
 */
export const managementBase = (() => {
  const parsed = new URL(managementUrl);
  parsed.username = "";
  parsed.password = "";
  return parsed.toString().replace(/\/+$/, "");
})();

/** A management client for the run's broker (its own credentials). */
export function management(): ManagementClient {
  return managementClient();
}

/** The example topology: the tests exercise the file users start from. */
export const ordersFile = `${repoRoot}topology/orders.yaml`;

export { randomName };

/** A fresh vhost with full permissions for the AMQP user; `remove` deletes it. */
export async function freshVhost(
  create = true,
): Promise<{ vhost: string; remove: () => Promise<void> }> {
  const client = management();
  const vhost = randomName("warren-topology");
  if (create) {
    await client.createVhost(vhost);
    await client.setPermissions(vhost, brokerUser(), { configure: ".*", write: ".*", read: ".*" });
  }
  return { vhost, remove: () => client.deleteVhost(vhost) };
}

export { type CliRun, runCli } from "../../support/cli.ts";
/** The AMQP URL of the test broker pointing at `vhost`. */
export const urlFor = vhostUrl;

/** Publishes `count` persistent messages straight to `queue` (default exchange), with confirms. */
export async function publishTo(vhost: string, queue: string, count: number): Promise<void> {
  const connection = await amqp.connect(urlFor(vhost));
  try {
    const channel = await connection.createConfirmChannel();
    for (let i = 0; i < count; i++) {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ n: i })), { persistent: true });
    }
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Polls until the management API reports `count` messages in the queue (its stats lag by seconds). */
export async function waitForMessages(vhost: string, queue: string, count: number): Promise<void> {
  const client = management();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const q = await client.getQueue(vhost, queue);
    if (q?.messages === count) return;
    if (Date.now() > deadline) {
      throw new Error(`queue ${queue} reports ${q?.messages} messages, expected ${count}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
