/**
 * The scenario environment on the run's one broker (the global setup's) and
 * the consumer-side faults the single-broker scenarios inject.
 */
import { expect } from "vitest";
import { managementRequest } from "../../../src/testing/management.ts";
import { brokerUrls } from "../../support/broker.ts";
import { databaseUrl } from "../../support/postgres.ts";
import type { Report, ScenarioEnv } from "./scenario.ts";

export function singleBrokerEnv(): ScenarioEnv {
  const { url, managementUrl } = brokerUrls();
  return {
    urls: [url],
    managementUrls: [managementUrl],
    databaseUrl: databaseUrl(),
    management: (path, init = {}) => managementRequest(managementUrl, path, init),
    where: "1 node",
  };
}

/**
 * Closes, through the management API, the client connections whose
 * `connection_name` contains `nameContains`; returns how many it closed.
 */
export async function closeConnections(env: ScenarioEnv, nameContains: string): Promise<number> {
  const response = await env.management("/api/connections?columns=name,client_properties");
  const list = (await response.json()) as {
    name: string;
    client_properties?: { connection_name?: string };
  }[];
  let closed = 0;
  for (const connection of list) {
    if (!(connection.client_properties?.connection_name ?? "").includes(nameContains)) continue;
    const result = await env.management(`/api/connections/${encodeURIComponent(connection.name)}`, {
      method: "DELETE",
      headers: { "x-reason": "closed by a warren reliability test" },
    });
    if (result.ok) closed++;
  }
  return closed;
}

/** The pass criteria every scenario shares. */
export function expectPassed(report: Report): void {
  expect(report.unhandled).toEqual([]);
  expect(report.lost).toBe(0);
  expect(report.duplicateExecutions).toBe(0);
  expect(report.confirmed).toBeGreaterThan(0);
}
