/**
 * Finds a RabbitMQ broker for tests, demos and local tries, in the order of
 * docs/testing.md and docs/architecture.md#tests-and-the-broker:
 *
 * 1. `RABBITMQ_URL` (and `RABBITMQ_MANAGEMENT_URL`, else derived from it):
 *    a broker someone already runs. `stop()` does nothing.
 * 2. testcontainers, when a Docker engine answers a quick ping.
 * 3. A throwaway local `rabbitmq-server` node in a temp dir on free ports.
 * 4. Otherwise a {@link ConnectionError} `WARREN_BROKER_NOT_FOUND` that says
 *    what was tried and how to get a broker.
 */
import { ConnectionError, ErrorCode } from "../errors.ts";
import { startContainerBroker } from "./broker-container.ts";
import { findRabbitmqServer, startLocalBroker } from "./broker-local.ts";
import { probeDocker } from "./docker.ts";
import { managementUrlFor } from "./management.ts";
import { once } from "./process.ts";

/** Where a broker came from. */
export type BrokerSource = "env" | "testcontainers" | "local";

/** A broker that answers AMQP and the management API. */
export interface Broker {
  /** AMQP URL with credentials, e.g. `amqp://guest:guest@127.0.0.1:40123`. */
  url: string;
  /** Management API base URL with credentials, e.g. `http://guest:guest@127.0.0.1:40124`. */
  managementUrl: string;
  /**
   * Base URL of the rabbitmq_prometheus plugin (`<url>/metrics`), when known:
   * enabled on a local node and in the container; `RABBITMQ_PROMETHEUS_URL`
   * for a broker of your own.
   */
  prometheusUrl?: string;
  source: BrokerSource;
  /**
   * Stops what {@link findOrStartBroker} started (container or local node,
   * including its temp dir). A no-op for `env`. Safe to call twice.
   */
  stop(): Promise<void>;
}

/** Options of {@link findOrStartBroker}; every field has a default. */
export interface FindOrStartBrokerOptions {
  /**
   * Sources to try, in this order.
   * @default ["env", "testcontainers", "local"]
   */
  sources?: readonly BrokerSource[];
  /**
   * Environment to read `RABBITMQ_URL`, `RABBITMQ_MANAGEMENT_URL`,
   * `DOCKER_HOST` and `PATH` from.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /**
   * How long a container or local node may take to answer, in milliseconds.
   * @default 90000
   */
  startTimeoutMs?: number;
  /**
   * How long to wait for a killed local node's processes to be gone, in milliseconds.
   * @default 15000
   */
  stopTimeoutMs?: number;
  /**
   * How long the Docker engine may take to answer its ping, in milliseconds.
   * @default 1000
   */
  dockerProbeTimeoutMs?: number;
  /**
   * Image for testcontainers.
   * @default "rabbitmq:3.13.7-management"
   */
  image?: string;
  /**
   * Path of the `rabbitmq-server` start script for a local node.
   * @default found in /usr/lib/rabbitmq/bin, Homebrew's sbin, or PATH
   */
  rabbitmqServerPath?: string;
}

/** Defaults of {@link FindOrStartBrokerOptions}. */
export const BROKER_DEFAULTS = Object.freeze({
  sources: Object.freeze(["env", "testcontainers", "local"] as const),
  startTimeoutMs: 90_000,
  stopTimeoutMs: 15_000,
  dockerProbeTimeoutMs: 1_000,
  image: "rabbitmq:3.13.7-management",
});

/**
 * Returns a broker from the first source that has one (see the module
 * comment for the order). Throws `WARREN_BROKER_NOT_FOUND` when none has,
 * and `WARREN_BROKER_START_FAILED` when a container or local node was
 * started but did not come up (with the tail of its log).
 */
export async function findOrStartBroker(options: FindOrStartBrokerOptions = {}): Promise<Broker> {
  const env = options.env ?? process.env;
  const startTimeoutMs = options.startTimeoutMs ?? BROKER_DEFAULTS.startTimeoutMs;
  const tried: string[] = [];
  let containerError: unknown;

  for (const source of options.sources ?? BROKER_DEFAULTS.sources) {
    if (source === "env") {
      const url = env.RABBITMQ_URL;
      if (url === undefined || url === "") {
        tried.push("RABBITMQ_URL: not set");
        continue;
      }
      const managementUrl = env.RABBITMQ_MANAGEMENT_URL || managementUrlFor(url);
      const prometheusUrl = env.RABBITMQ_PROMETHEUS_URL;
      return {
        url,
        managementUrl,
        ...(prometheusUrl ? { prometheusUrl } : {}),
        source,
        stop: async () => {},
      };
    }

    if (source === "testcontainers") {
      const probe = await probeDocker(
        env,
        options.dockerProbeTimeoutMs ?? BROKER_DEFAULTS.dockerProbeTimeoutMs,
      );
      if (!probe.available) {
        tried.push(`testcontainers: ${probe.detail}`);
        continue;
      }
      try {
        const container = await startContainerBroker({
          image: options.image ?? BROKER_DEFAULTS.image,
          startTimeoutMs,
        });
        return { ...container, source, stop: once(container.stop) };
      } catch (error) {
        // An engine that cannot pull or run the image (offline, rootless
        // quirks) should not hide a local rabbitmq-server that would work.
        containerError = error;
        tried.push(`testcontainers: ${probe.detail}, but the container failed: ${String(error)}`);
        continue;
      }
    }

    const serverPath = options.rabbitmqServerPath ?? findRabbitmqServer(env);
    if (serverPath === undefined) {
      tried.push("local: no rabbitmq-server in /usr/lib/rabbitmq/bin, Homebrew's sbin or PATH");
      continue;
    }
    const start = () =>
      startLocalBroker({
        serverPath,
        env,
        startTimeoutMs,
        stopTimeoutMs: options.stopTimeoutMs ?? BROKER_DEFAULTS.stopTimeoutMs,
      });
    // A port checked free can still be taken before the node binds it
    // (ports.ts); the node then exits with eaddrinuse. New ports, once.
    const node = await start().catch((error: unknown) => {
      if (!String((error as Error).message).includes("eaddrinuse")) throw error;
      return start();
    });
    return {
      url: node.url,
      managementUrl: node.managementUrl,
      prometheusUrl: node.prometheusUrl,
      source,
      stop: once(node.stop),
    };
  }

  if (containerError !== undefined) throw containerError;
  throw new ConnectionError(
    ErrorCode.WARREN_BROKER_NOT_FOUND,
    [
      "No RabbitMQ broker found. Tried:",
      ...tried.map((line) => `  - ${line}`),
      "Get one in any of these ways:",
      "  - point at a running broker: export RABBITMQ_URL=amqp://guest:guest@localhost:5672 " +
        "(and RABBITMQ_MANAGEMENT_URL=http://guest:guest@localhost:15672 if the management API " +
        "is elsewhere); `docker compose up -d rabbitmq` starts one",
      "  - install Docker (https://docs.docker.com/engine/install/) so testcontainers can start " +
        `${options.image ?? BROKER_DEFAULTS.image}`,
      "  - install RabbitMQ: `sudo apt-get install rabbitmq-server` (Debian/Ubuntu) or " +
        "`brew install rabbitmq` (macOS); a throwaway node is then started per test run",
    ].join("\n"),
  );
}
