/**
 * A throwaway RabbitMQ node from a locally installed `rabbitmq-server`
 * (Debian's package, Homebrew's formula), for machines without Docker.
 *
 * Everything the node writes lives in one temp dir: its database (mnesia),
 * logs, config, plugin list and even its Erlang cookie (HOME points there,
 * so the node never touches ~/.erlang.cookie and never clashes with another
 * node's). Inherited `RABBITMQ_*` variables are dropped so that a developer's
 * shell cannot redirect it. Ports are free ones picked at start; AMQP and
 * the management API listen on 127.0.0.1 only. Erlang's port mapper `epmd`
 * is shared by all nodes on the host and outlives this one on purpose.
 */
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ConnectionError, ErrorCode } from "../errors.ts";
import { canConnect } from "./docker.ts";
import { managementRequest } from "./management.ts";
import { rabbitmqNodeEnv } from "./node-env.ts";
import { freePorts } from "./ports.ts";
import {
  killGroupSync,
  onProcessExit,
  removeDir,
  removeDirSync,
  type ServerProcess,
  startServerProcess,
  tailOfFile,
  waitUntil,
} from "./process.ts";

/** A running throwaway node. */
export interface LocalBroker {
  url: string;
  managementUrl: string;
  /** The rabbitmq_prometheus plugin's endpoint base, e.g. `http://127.0.0.1:40125` (`/metrics`). */
  prometheusUrl: string;
  nodeName: string;
  /** Temp dir holding everything the node wrote; removed by `stop()`. */
  dir: string;
  /** Process group id of the node (the `rabbitmq-server` script and its VM). */
  pid: number;
  stop(): Promise<void>;
}

/** Options for {@link startLocalBroker}. */
export interface LocalBrokerOptions {
  /** Path of `rabbitmq-server`; found on the usual paths when absent. */
  serverPath: string;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  env: NodeJS.ProcessEnv;
}

/** Usual install locations of the `rabbitmq-server` start script. */
const SERVER_CANDIDATES = [
  // Debian/Ubuntu: the real script. /usr/sbin/rabbitmq-server is a wrapper
  // that switches to the rabbitmq user and would ignore our environment.
  "/usr/lib/rabbitmq/bin/rabbitmq-server",
  "/opt/homebrew/sbin/rabbitmq-server",
  "/usr/local/sbin/rabbitmq-server",
];

/** Finds `rabbitmq-server`, or returns undefined. */
export function findRabbitmqServer(env: NodeJS.ProcessEnv): string | undefined {
  const onPath = (env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "" && dir !== "/usr/sbin" && dir !== "/sbin")
    .map((dir) => join(dir, "rabbitmq-server"));
  return [...SERVER_CANDIDATES, ...onPath].find((path) => existsSync(path));
}

/**
 * Starts a node and resolves once both AMQP and `GET /api/overview` answer.
 * On failure the node is stopped, its temp dir removed, and the error
 * carries the tail of its log.
 */
export async function startLocalBroker(options: LocalBrokerOptions): Promise<LocalBroker> {
  const dir = await mkdtemp(join(tmpdir(), "warren-rabbitmq-"));
  const [amqpPort, managementPort, distPort, prometheusPort] = (await freePorts(4)) as [
    number,
    number,
    number,
    number,
  ];
  const nodeName = `warren-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`;
  const logFile = join(dir, "server.log");
  const nodeLog = join(dir, "log", "node.log");

  // rabbitmq_prometheus: the broker's own per-queue series, which warren's
  // alert rules and dashboard use (docs/operations.md).
  // rabbitmq_consistent_hash_exchange: the hash exchange of partitioned
  // queues (docs/topology.md#partitioned-queues).
  await writeFile(
    join(dir, "enabled_plugins"),
    "[rabbitmq_management,rabbitmq_prometheus,rabbitmq_consistent_hash_exchange].\n",
  );
  await writeFile(
    join(dir, "rabbitmq.conf"),
    [
      "loopback_users = none",
      `listeners.tcp.1 = 127.0.0.1:${amqpPort}`,
      `management.tcp.port = ${managementPort}`,
      "management.tcp.ip = 127.0.0.1",
      `prometheus.tcp.port = ${prometheusPort}`,
      "prometheus.tcp.ip = 127.0.0.1",
      // A small disk must not block publishers in tests.
      "disk_free_limit.absolute = 1MB",
      // Queue depths and connections show up in the management API after
      // 1 s instead of the default 5 s, so tests that poll it finish sooner.
      "collect_statistics_interval = 1000",
      "",
    ].join("\n"),
  );

  const env = rabbitmqNodeEnv(options.env, {
    dir,
    nodeName,
    amqpPort,
    distPort,
    logFile: nodeLog,
  });

  const server = startServerProcess({
    command: options.serverPath,
    args: [],
    env,
    cwd: dir,
    logFile,
  });
  const unregister = onProcessExit(() => {
    killGroupSync(server.pid);
    removeDirSync(dir);
  });

  const url = `amqp://guest:guest@127.0.0.1:${amqpPort}`;
  const managementUrl = `http://guest:guest@127.0.0.1:${managementPort}`;
  const stop = async () => {
    await stopNode(server, options.stopTimeoutMs);
    await removeDir(dir);
    unregister();
  };

  try {
    await waitUntil(
      async () =>
        (await canConnect("127.0.0.1", amqpPort, 1_000)) &&
        (await managementAnswers(managementUrl)),
      {
        timeoutMs: options.startTimeoutMs,
        intervalMs: 250,
        failed: () =>
          server.exitReason === undefined ? undefined : `it exited (${server.exitReason})`,
      },
    );
  } catch (error) {
    const log = [tailOfFile(logFile, 2048), tailOfFile(nodeLog, 4096)]
      .filter((text) => text.trim() !== "")
      .join("\n--- node log ---\n");
    await stop();
    throw new ConnectionError(
      ErrorCode.WARREN_BROKER_START_FAILED,
      `The throwaway RabbitMQ node ${nodeName} (${options.serverPath}, AMQP port ${amqpPort}, ` +
        `management port ${managementPort}) did not start: ${(error as Error).message}. ` +
        "Set RABBITMQ_URL to use a running broker instead. Last lines of its log:\n" +
        (log === "" ? "(empty)" : log),
      { cause: error },
    );
  }

  const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  return { url, managementUrl, prometheusUrl, nodeName, dir, pid: server.pid, stop };
}

async function managementAnswers(managementUrl: string): Promise<boolean> {
  try {
    const response = await managementRequest(managementUrl, "/api/overview", { timeoutMs: 2_000 });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * A clean shutdown (SIGTERM) takes about 6 s on 3.10 while the node stops its
 * apps one by one; the node's data is thrown away with its temp dir, so
 * SIGKILL to the whole group (script, VM, its port helpers) is both faster
 * and leaves nothing behind.
 */
async function stopNode(server: ServerProcess, stopTimeoutMs: number): Promise<void> {
  await server.stop("SIGKILL", stopTimeoutMs);
}
