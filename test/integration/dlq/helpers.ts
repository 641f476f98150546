import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { brokerUrls, managementClient as management, vhostUrl } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";

const _repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The run's broker, from the global setup (test/support/global-setup.ts). */
export const { url: amqpUrl, managementUrl } = brokerUrls();

export { drain, readyCount } from "../../support/queues.ts";
export { randomName };

/** The AMQP URL of the test broker pointing at `vhost`. */
export const urlFor = (vhost: string): string => vhostUrl(vhost);

/** A work queue's options in the topology file (`type`, `deliveryLimit`, `maxLength`, ...). */
export type QueueSpec = Record<string, unknown>;

/**
 * A fresh vhost with `queues` (each with its retry tiers and `.dlq`) applied
 * by `applyTopology`, and an `orders` topic exchange. `remove` deletes the vhost.
 */
export async function freshTopology(
  queues: Record<string, QueueSpec>,
): Promise<{ vhost: string; url: string; remove: () => Promise<void> }> {
  const vhost = randomName("warren-dlq");
  const topology = resolveTopology({
    vhost,
    exchanges: { orders: { type: "topic" } },
    queues,
  });
  await applyTopology(compileTopology(topology), { url: urlFor(vhost), managementUrl });
  return { vhost, url: urlFor(vhost), remove: () => management().deleteVhost(vhost) };
}

/** A dead letter as the consumer runtime writes it (docs/architecture.md#message-properties-and-headers). */
export interface LetterSpec {
  messageId: string;
  reason?: string;
  body?: unknown;
  headers?: Record<string, unknown>;
}

/** Publishes dead letters with warren's failure headers straight into `Q.dlq`, confirmed. */
export async function publishDeadLetters(
  url: string,
  queue: string,
  letters: LetterSpec[],
): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    for (const letter of letters) {
      const reason = letter.reason ?? "retries-exhausted";
      channel.sendToQueue(
        `${queue}.dlq`,
        Buffer.from(JSON.stringify(letter.body ?? { id: letter.messageId })),
        {
          persistent: true,
          contentType: "application/json",
          messageId: letter.messageId,
          type: "order.created",
          timestamp: 1_700_000_000,
          headers: {
            "warren-attempt": 4,
            "warren-attempts": 4,
            "warren-reason": reason,
            "warren-error-type": "TypeError",
            "warren-error-message": `boom ${letter.messageId}`,
            "warren-error-stack": "TypeError: boom\n    at handler (worker.ts:1:1)",
            "warren-first-failed-at": "2024-05-01T10:00:00.000Z",
            "warren-failed-at": "2024-05-01T10:01:11.000Z",
            "warren-original-queue": queue,
            "warren-original-exchange": "orders",
            "warren-original-routing-key": "order.created",
            "app-tenant": "acme",
            ...letter.headers,
          },
        },
      );
    }
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
}

/**
 * Makes the broker dead-letter one message by its delivery limit: publishes it
 * to `queue` (which must have `deliveryLimit`) and requeues it until it is gone.
 */
export async function crashLoop(url: string, queue: string, messageId: string): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    channel.publish("orders", "order.crash", Buffer.from('{"crash":true}'), {
      persistent: true,
      messageId,
      contentType: "application/json",
    });
    await channel.waitForConfirms();
    for (let i = 0; i < 20; i++) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) break;
      channel.nack(message, false, true);
    }
    await channel.close();
  } finally {
    await connection.close();
  }
}

export { type CliRun, runCli } from "../../support/cli.ts";

/** Message ids `m-000`, `m-001`, ... in publishing order. */
export const ids = (n: number) =>
  Array.from({ length: n }, (_, i) => `m-${String(i).padStart(3, "0")}`);
