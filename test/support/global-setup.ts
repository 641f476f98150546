/**
 * Vitest global setup of the integration project: finds or starts one
 * RabbitMQ broker and one PostgreSQL server per run (see docs/testing.md),
 * hands their URLs to tests with `provide` (read them with the helpers in
 * broker.ts and postgres.ts) and in `process.env` for child processes such
 * as the CLI, and stops both at teardown.
 *
 * Both start in parallel. A throwaway PostgreSQL costs about 0.5 s here, so
 * it is always started rather than on demand; when none can be found the run
 * goes on and only the tests that ask for it fail, with the reason.
 */
import type { TestProject } from "vitest/node";
import { findOrStartBroker } from "../../src/testing/broker.ts";
import { findOrStartPostgres } from "../../src/testing/postgres.ts";
import "./context.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const [brokerResult, postgresResult] = await Promise.allSettled([
    findOrStartBroker(),
    findOrStartPostgres(),
  ]);
  if (brokerResult.status === "rejected") {
    if (postgresResult.status === "fulfilled") await postgresResult.value.stop();
    throw brokerResult.reason;
  }
  const broker = brokerResult.value;
  const postgres = postgresResult.status === "fulfilled" ? postgresResult.value : undefined;
  const databaseError =
    postgresResult.status === "rejected" ? String(postgresResult.reason?.message) : "";

  project.provide("RABBITMQ_URL", broker.url);
  project.provide("RABBITMQ_MANAGEMENT_URL", broker.managementUrl);
  project.provide("RABBITMQ_PROMETHEUS_URL", broker.prometheusUrl ?? "");
  project.provide("WARREN_BROKER_SOURCE", broker.source);
  project.provide("DATABASE_URL", postgres?.url ?? "");
  project.provide("DATABASE_ERROR", databaseError);

  const savedEnv = {
    RABBITMQ_URL: process.env.RABBITMQ_URL,
    RABBITMQ_MANAGEMENT_URL: process.env.RABBITMQ_MANAGEMENT_URL,
    DATABASE_URL: process.env.DATABASE_URL,
  };
  process.env.RABBITMQ_URL = broker.url;
  process.env.RABBITMQ_MANAGEMENT_URL = broker.managementUrl;
  if (postgres !== undefined) process.env.DATABASE_URL = postgres.url;

  if (process.env.WARREN_TEST_VERBOSE) {
    const ms = Math.round(performance.now() - started);
    console.log(
      `[warren] broker from ${broker.source}, postgres from ${postgres?.source ?? "nowhere"} (${ms} ms)`,
    );
  }

  return async () => {
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await Promise.all([broker.stop(), postgres?.stop()]);
  };
}
