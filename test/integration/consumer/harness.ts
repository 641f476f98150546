/**
 * A fresh vhost with a small topology applied, a consumer connection, a
 * confirmed publisher on its own connection, and a raw amqplib channel to
 * publish and inspect with. Every consumer test builds one and closes it.
 */
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from "amqplib";
import { pino } from "pino";
import { ManagedConnection } from "../../../src/connection/connection.ts";
import { type Consumer, type ConsumerDeps, startConsumer } from "../../../src/consumer/consume.ts";
import type { ConsumeOptions, Handler } from "../../../src/consumer/options.ts";
import { createMetrics, type WarrenMetrics } from "../../../src/observability/metrics.ts";
import { Publisher } from "../../../src/publisher/publisher.ts";
import { managementRequest } from "../../../src/testing/management.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import type { CompiledTopology } from "../../../src/topology/model.ts";
import { brokerUrls } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";
import { sleep } from "../../support/wait.ts";

/** The run's broker (test/support/global-setup.ts). */
export const { url: brokerUrl, managementUrl } = brokerUrls();

export const logger = pino({ level: process.env.WARREN_TEST_LOG_LEVEL ?? "silent" });

export function vhostUrl(vhost: string, base = brokerUrl): string {
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return url.href;
}

async function management(path: string, init: RequestInit = {}, base = managementUrl) {
  const response = await managementRequest(base, path, init);
  if (!response.ok && response.status !== 404) {
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  }
  return response;
}

export async function createVhost(vhost: string, base = managementUrl): Promise<void> {
  const user = decodeURIComponent(new URL(brokerUrl).username || "guest");
  const path = `/api/vhosts/${encodeURIComponent(vhost)}`;
  await management(path, { method: "PUT", body: "{}" }, base);
  await management(
    `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
    { method: "PUT", body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }) },
    base,
  );
}

export async function deleteVhost(vhost: string, base = managementUrl): Promise<void> {
  await management(`/api/vhosts/${encodeURIComponent(vhost)}`, { method: "DELETE" }, base);
}

/**
 * Closes, from the broker's side, the connections of `vhost` whose
 * `connection_name` is `name`. The management API lists a new connection
 * only after its first statistics tick (up to 5 s), so this waits for it.
 */
export async function killConnection(vhost: string, name: string, base = managementUrl) {
  const path = `/api/vhosts/${encodeURIComponent(vhost)}/connections`;
  const found = await waitFor(
    async () => {
      const response = await management(path, {}, base);
      const all = (await response.json()) as {
        name: string;
        client_properties?: { connection_name?: string };
      }[];
      const matching = all.filter((c) => c.client_properties?.connection_name === name);
      return matching.length > 0 ? matching : undefined;
    },
    15_000,
    `connection "${name}" in the management API`,
  );
  for (const connection of found) {
    await management(
      `/api/connections/${encodeURIComponent(connection.name)}`,
      { method: "DELETE" },
      base,
    );
  }
}

export function managedConnection(url: string, role: "publisher" | "consumer"): ManagedConnection {
  return new ManagedConnection({
    urls: [url],
    role,
    serviceName: "warren-test",
    heartbeatSeconds: 10,
    initialConnectDeadlineMs: 10_000,
    connectTimeoutMs: 5_000,
    backoff: { initialDelayMs: 50, maxDelayMs: 500, multiplier: 2 },
    logger,
  });
}

/** A small work queue with two tiers (200 ms, 500 ms) and 3 attempts. */
export function workTopology(vhost: string, overrides: Record<string, unknown> = {}): unknown {
  return {
    vhost,
    exchanges: { events: { type: "topic" } },
    queues: {
      work: {
        bindings: [{ exchange: "events", routingKey: "job.*" }],
        retry: { delays: ["200ms", "500ms"], maxAttempts: 3 },
        deliveryLimit: 3,
        ...overrides,
      },
      // Bound to the same exchange: retry copies must never reach it.
      audit: { bindings: [{ exchange: "events", routingKey: "#" }] },
    },
  };
}

export interface Harness {
  vhost: string;
  url: string;
  topology: CompiledTopology;
  deps: ConsumerDeps;
  metrics: WarrenMetrics;
  publisher: Publisher;
  raw: ChannelModel;
  channel: ConfirmChannel;
  consume<T>(queue: string, handler: Handler<T>, options?: ConsumeOptions<T>): Promise<Consumer>;
  /** Publishes JSON (or a raw Buffer) with confirm, like any other client would. */
  publish(
    exchange: string,
    routingKey: string,
    body: unknown,
    properties?: amqp.Options.Publish,
  ): Promise<void>;
  /** Ready messages in `queue`. */
  depth(queue: string): Promise<number>;
  /** Takes (and acks) every message in `queue` until `count` are collected. */
  collect(queue: string, count: number, timeoutMs?: number): Promise<GetMessage[]>;
  close(): Promise<void>;
}

export { sleep };

/** How many messages the harness's consumers counted with `outcome`. */
export async function consumedCount(h: Harness, outcome: string): Promise<number> {
  const metric = await h.metrics.messagesConsumed.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/**
 * Polls `check` until it returns a value (not undefined or false). `what`
 * names the condition in the timeout error; pass a function to describe
 * the state at the moment of the timeout (live counts), not at the call.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what: string | (() => string | Promise<string>) = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const described = typeof what === "string" ? what : await what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}`);
    }
    await sleep(25);
  }
}

export async function createHarness(
  topologyInput: (vhost: string) => unknown = workTopology,
): Promise<Harness> {
  const vhost = randomName("warren-consumer");
  await createVhost(vhost);
  const url = vhostUrl(vhost);
  const topology = compileTopology(resolveTopology(topologyInput(vhost)));
  await applyTopology(topology, { url, managementUrl });

  const metrics = createMetrics();
  const consumerConnection = managedConnection(url, "consumer");
  const publisherConnection = managedConnection(url, "publisher");
  await Promise.all([consumerConnection.open(), publisherConnection.open()]);
  const publisher = new Publisher({ connection: publisherConnection, logger, metrics });
  const raw = await amqp.connect(url);
  const channel = await raw.createConfirmChannel();
  const consumers: Consumer[] = [];
  const deps: ConsumerDeps = {
    connection: consumerConnection,
    publisher,
    topology,
    logger,
    metrics,
  };

  return {
    vhost,
    url,
    topology,
    deps,
    metrics,
    publisher,
    raw,
    channel,
    async consume(queue, handler, options) {
      const consumer = await startConsumer(deps, queue, handler, options);
      consumers.push(consumer);
      return consumer;
    },
    async publish(exchange, routingKey, body, properties = {}) {
      const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      channel.publish(exchange, routingKey, content, { persistent: true, ...properties });
      await channel.waitForConfirms();
    },
    async depth(queue) {
      const check = await raw.createChannel();
      try {
        return (await check.checkQueue(queue)).messageCount;
      } finally {
        await check.close().catch(() => {});
      }
    },
    async collect(queue, count, timeoutMs = 10_000) {
      const got: GetMessage[] = [];
      await waitFor(
        async () => {
          for (;;) {
            const message = await channel.get(queue);
            if (message === false) break;
            channel.ack(message);
            got.push(message);
          }
          return got.length >= count;
        },
        timeoutMs,
        `${count} message(s) in ${queue}`,
      );
      return got;
    },
    async close() {
      await Promise.all(consumers.map((consumer) => consumer.close({ drainTimeoutMs: 1_000 })));
      await publisher.close();
      await Promise.all([consumerConnection.close(), publisherConnection.close()]);
      await raw.close().catch(() => {});
      await deleteVhost(vhost);
    },
  };
}
