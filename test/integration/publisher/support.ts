/**
 * Small helpers for the publisher's integration tests: the shared broker's
 * URLs, a fresh vhost per test, and the management API calls the fault
 * tests need (find and kill a connection by its name).
 */
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { pino } from "pino";
import { expect } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { PublishError } from "../../../src/errors.ts";
import { managementRequest } from "../../../src/testing/management.ts";
import type { CompiledTopology } from "../../../src/topology/model.ts";
import { brokerUrls, brokerUser } from "../../support/broker.ts";
import { declareCompiled } from "../../support/declare.ts";
import { randomName } from "../../support/names.ts";
import { sleep } from "../../support/wait.ts";

/** The run's broker, provided by test/support/global-setup.ts. */
export const { url: brokerUrl, managementUrl } = brokerUrls();

export const logger = pino({ level: process.env.WARREN_TEST_LOG_LEVEL ?? "silent" });

export { randomName };

async function management(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await managementRequest(managementUrl, path, init);
  if (!response.ok && response.status !== 404) {
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  }
  return response;
}

/** A fresh vhost with a raw channel in it; `close()` deletes it. */
export interface TestVhost {
  name: string;
  url: string;
  channel: Channel;
  close(): Promise<void>;
}

export async function createVhost(): Promise<TestVhost> {
  const name = randomName("warren-pub");
  const path = encodeURIComponent(name);
  await management(`/api/vhosts/${path}`, { method: "PUT" });
  await management(`/api/permissions/${path}/${encodeURIComponent(brokerUser())}`, {
    method: "PUT",
    body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }),
  });
  const url = `${brokerUrl.replace(/\/$/, "")}/${path}`;
  const model: ChannelModel = await amqp.connect(url);
  const channel = await model.createChannel();
  return {
    name,
    url,
    channel,
    async close() {
      await model.close().catch(() => {});
      await management(`/api/vhosts/${path}`, { method: "DELETE" });
    },
  };
}

/** Names of the broker's connections whose `connection_name` is `displayName`. */
export async function connectionsNamed(displayName: string): Promise<string[]> {
  const response = await management("/api/connections?columns=name,client_properties");
  const rows = (await response.json()) as {
    name: string;
    client_properties?: { connection_name?: string };
  }[];
  return rows
    .filter((row) => row.client_properties?.connection_name === displayName)
    .map((r) => r.name);
}

/** Force-closes the connections with these broker names (`ip:port -> ip:port`). */
export async function killConnectionsByName(names: readonly string[]): Promise<void> {
  for (const name of names) {
    await management(`/api/connections/${encodeURIComponent(name)}`, {
      method: "DELETE",
      headers: { "x-reason": "warren publisher test" },
    });
  }
}

/** Consumes every message of `queue` and returns their message ids. */
export async function drainIds(channel: Channel, queue: string): Promise<Set<string>> {
  const { messageCount } = await channel.checkQueue(queue);
  const ids = new Set<string>();
  if (messageCount === 0) return ids;
  const { promise, resolve } = Promise.withResolvers<void>();
  let seen = 0;
  await channel.prefetch(2_000);
  const { consumerTag } = await channel.consume(queue, (message) => {
    if (message === null) return;
    ids.add(String(message.properties.messageId));
    channel.ack(message);
    if (++seen === messageCount) resolve();
  });
  await promise;
  await channel.cancel(consumerTag);
  return ids;
}

export { sleep };

/** The PublishError `promise` rejects with (fails the test when it resolves or rejects otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<PublishError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PublishError);
  return error as PublishError;
}

/**
 * A fresh vhost with `topology` declared in it and a client publishing to
 * `publishExchange` there; `close()` closes the client and deletes the vhost.
 */
export async function clientOnTopology(
  topology: CompiledTopology,
  publishExchange: string,
): Promise<{ vhost: TestVhost; warren: Warren; close(): Promise<void> }> {
  const vhost = await createVhost();
  await declareCompiled(vhost.channel, topology);
  const warren = await connect({
    url: vhost.url,
    publishExchange,
    serviceName: randomName(`${publishExchange}-test`),
    topology,
    logger,
  });
  return {
    vhost,
    warren,
    async close() {
      await warren.close();
      await vhost.close();
    },
  };
}
