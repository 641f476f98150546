/**
 * Helpers for integration tests that talk to the run's broker. The URLs come
 * from test/support/global-setup.ts through vitest's `inject`.
 */
import { inject } from "vitest";
import { ManagementClient } from "../../src/management/client.ts";
import type { BrokerSource } from "../../src/testing/broker.ts";
import { managementRequest } from "../../src/testing/management.ts";
import { randomName } from "./names.ts";
import "./context.ts";

/** URLs of the run's broker. */
export interface BrokerUrls {
  /** AMQP URL with credentials, default vhost. */
  url: string;
  /** Management API base URL with credentials. */
  managementUrl: string;
  source: BrokerSource;
}

/** The run's broker, as provided by the global setup. */
export function brokerUrls(): BrokerUrls {
  return {
    url: inject("RABBITMQ_URL"),
    managementUrl: inject("RABBITMQ_MANAGEMENT_URL"),
    source: inject("WARREN_BROKER_SOURCE"),
  };
}

/**
 * The user name the run's broker URL logs in with. A URL without one means
 * AMQP's default user, as amqplib and the management client read it.
 */
export function brokerUser(): string {
  return decodeURIComponent(new URL(brokerUrls().url).username || "guest");
}

/**
 * A management client for the run's broker, with the management URL's
 * credentials, else the AMQP URL's: no test names a password of its own.
 */
export function managementClient(): ManagementClient {
  const { url, managementUrl } = brokerUrls();
  const m = new URL(managementUrl);
  const a = new URL(url);
  const username = decodeURIComponent(m.username || a.username || "guest");
  const password = decodeURIComponent(m.password || a.password || "guest");
  m.username = "";
  m.password = "";
  return new ManagementClient({ url: m.toString(), username, password });
}

/**
 * Calls the run's management API, e.g. `management("/api/queues/%2F/q")`.
 * Throws when the answer is not 2xx, with the status and body; returns the
 * parsed JSON body, or undefined when there is none.
 */
export async function management<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await managementRequest(brokerUrls().managementUrl, path, init);
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`);
  }
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/** The AMQP URL of the run's broker (or of `base`) with `vhost` as its path. */
export function vhostUrl(vhost: string, base = brokerUrls().url): string {
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return url.toString();
}

/** A fresh vhost handed to {@link withVhost}'s callback. */
export interface Vhost {
  name: string;
  /** AMQP URL of the run's broker with this vhost. */
  url: string;
  /** Management API base URL (the same for every vhost). */
  managementUrl: string;
}

/**
 * Runs `fn` with a fresh vhost (full permissions for the broker's user) and
 * deletes the vhost afterwards, whatever `fn` did: everything declared in it
 * goes with it.
 */
export async function withVhost<T>(fn: (vhost: Vhost) => Promise<T>): Promise<T> {
  const { url, managementUrl } = brokerUrls();
  const name = randomName("vhost");
  const user = brokerUser();
  const path = `/api/vhosts/${encodeURIComponent(name)}`;
  await management(path, { method: "PUT", body: "{}" });
  try {
    await management(`/api/permissions/${encodeURIComponent(name)}/${encodeURIComponent(user)}`, {
      method: "PUT",
      body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }),
    });
    return await fn({ name, url: vhostUrl(name, url), managementUrl });
  } finally {
    await management(path, { method: "DELETE" }).catch(() => {});
  }
}
