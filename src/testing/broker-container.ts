/**
 * A RabbitMQ container through testcontainers, for machines with a Docker
 * engine. testcontainers is a dev dependency, so it is imported only here
 * and only when an engine answered; its reaper removes the container even if
 * this process dies.
 */
import { ConnectionError, ErrorCode } from "../errors.ts";
import { importTestcontainers } from "../optional-dependency.ts";
import { managementRequest } from "./management.ts";
import { waitUntil } from "./process.ts";

/** A running broker container. */
export interface ContainerBroker {
  url: string;
  managementUrl: string;
  /** The rabbitmq_prometheus endpoint base (port 15692 of the container). */
  prometheusUrl: string;
  stop(): Promise<void>;
}

/** Starts `image` and resolves once AMQP and the management API answer. */
export async function startContainerBroker(options: {
  image: string;
  startTimeoutMs: number;
}): Promise<ContainerBroker> {
  // A Docker engine answers; starting a broker in it needs testcontainers.
  const testcontainers = await importTestcontainers("Starting a RabbitMQ container");
  const { GenericContainer, Wait } = testcontainers;
  const container = await new GenericContainer(options.image)
    .withExposedPorts(5672, 15672, 15692)
    // Same as a local node: management stats every 1 s instead of 5 s.
    .withCopyContentToContainer([
      {
        content: "collect_statistics_interval = 1000\n",
        target: "/etc/rabbitmq/conf.d/90-warren.conf",
      },
      // The image's own list plus the hash exchange of partitioned queues
      // (docs/topology.md#partitioned-queues).
      {
        content: "[rabbitmq_management,rabbitmq_prometheus,rabbitmq_consistent_hash_exchange].\n",
        target: "/etc/rabbitmq/enabled_plugins",
      },
    ])
    .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
    .withStartupTimeout(options.startTimeoutMs)
    .start();
  const host = container.getHost();
  const url = `amqp://guest:guest@${host}:${container.getMappedPort(5672)}`;
  const managementUrl = `http://guest:guest@${host}:${container.getMappedPort(15672)}`;
  const stop = async () => {
    await container.stop();
  };
  try {
    // The log line comes when the broker boots; the management listener
    // may still be a moment behind.
    await waitUntil(
      async () => {
        try {
          const response = await managementRequest(managementUrl, "/api/overview");
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: options.startTimeoutMs, intervalMs: 250, failed: () => undefined },
    );
  } catch (error) {
    await stop();
    throw new ConnectionError(
      ErrorCode.WARREN_BROKER_START_FAILED,
      `The RabbitMQ container ${options.image} started but its management API at ` +
        `${host}:${container.getMappedPort(15672)} did not answer: ${(error as Error).message}.`,
      { cause: error },
    );
  }
  // The official image enables rabbitmq_prometheus on port 15692.
  const prometheusUrl = `http://${host}:${container.getMappedPort(15692)}`;
  return { url, managementUrl, prometheusUrl, stop };
}
