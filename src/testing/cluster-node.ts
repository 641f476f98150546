/**
 * One node of a throwaway local RabbitMQ cluster: its config, its data dir
 * and its process group, which can be started again after it was killed or
 * stopped (its data dir stays until the whole cluster is removed).
 *
 * Unlike the single throwaway node (broker-local.ts), the nodes of a cluster
 * must share an Erlang cookie, so `HOME` is the cluster's root dir, where
 * the cookie file lives, and each node keeps its database and logs in a
 * sub-dir of its own. The net tick time is short (8 s instead of 60 s) so
 * that a paused node is declared down within seconds, and partitions are
 * handled by `pause_minority`, the mode RabbitMQ recommends for three nodes.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canConnect } from "./docker.ts";
import { rabbitmqNodeEnv } from "./node-env.ts";
import {
  groupAlive,
  type ServerProcess,
  sleep,
  startServerProcess,
  tailOfFile,
  waitUntil,
} from "./process.ts";

/** Net tick time of cluster nodes, in seconds: a paused node is down after 6-10 s. */
export const CLUSTER_NET_TICKTIME_SECONDS = 8;

/** Ports and names of one node, fixed for its whole life. */
export interface ClusterNodeConfig {
  /** Erlang node name, e.g. `warren-123-ab12cd-1@localhost`. */
  name: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  /** The cluster's root dir: `HOME` of every node, holds the shared cookie. */
  rootDir: string;
  /** `rabbitmq-server` start script. */
  serverPath: string;
  /** The caller's environment; `nodeEnv` drops its `RABBITMQ_*` variables. */
  baseEnv: NodeJS.ProcessEnv;
}

/**
 * Writes a node's config files; call once before the first start. With
 * `seed` (the first node's name) the node joins the seed's cluster on its
 * first boot through RabbitMQ's `classic_config` peer discovery, so no
 * `rabbitmqctl stop_app / join_cluster / start_app` (three CLI VMs and a
 * restart of the node, 25-30 s of the formation here) is needed. It retries
 * for up to 60 s while the seed is still booting; on later boots the node
 * is already a member and discovery is skipped.
 */
export async function writeNodeConfig(config: ClusterNodeConfig, seed?: string): Promise<void> {
  const dir = nodeDir(config);
  await mkdir(dir, { recursive: true });
  // The hash exchange of partitioned queues (docs/topology.md#partitioned-queues).
  await writeFile(
    join(dir, "enabled_plugins"),
    "[rabbitmq_management,rabbitmq_consistent_hash_exchange].\n",
  );
  await writeFile(
    join(dir, "rabbitmq.conf"),
    [
      "loopback_users = none",
      `listeners.tcp.1 = 127.0.0.1:${config.amqpPort}`,
      `management.tcp.port = ${config.managementPort}`,
      "management.tcp.ip = 127.0.0.1",
      "disk_free_limit.absolute = 1MB",
      "collect_statistics_interval = 1000",
      "cluster_partition_handling = pause_minority",
      ...(seed === undefined
        ? []
        : [
            "cluster_formation.peer_discovery_backend = classic_config",
            `cluster_formation.classic_config.nodes.1 = ${seed}`,
            "cluster_formation.discovery_retry_limit = 240",
            "cluster_formation.discovery_retry_interval = 250",
          ]),
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "advanced.config"),
    `[{kernel, [{net_ticktime, ${CLUSTER_NET_TICKTIME_SECONDS}}]}].\n`,
  );
}

/** The node's own dir under the cluster root. */
export function nodeDir(config: ClusterNodeConfig): string {
  return join(config.rootDir, config.name.split("@")[0] as string);
}

/** Environment of the node's server and of `rabbitmqctl` talking to it. */
export function nodeEnv(config: ClusterNodeConfig): NodeJS.ProcessEnv {
  const dir = nodeDir(config);
  return {
    ...rabbitmqNodeEnv(config.baseEnv, {
      dir,
      home: config.rootDir,
      nodeName: config.name,
      amqpPort: config.amqpPort,
      distPort: config.distPort,
      logFile: join(dir, "log", "node.log"),
    }),
    // Idle schedulers sleep instead of spinning: three nodes share two
    // cores (and the machine other test runs), and busy-waiting schedulers
    // take CPU the booting peers need.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "+sbwt none +sbwtdcpu none +sbwtdio none",
  };
}

/** Spawns the node in a process group of its own; its output goes to `server.log`. */
export function spawnNode(config: ClusterNodeConfig): ServerProcess {
  const dir = nodeDir(config);
  return startServerProcess({
    command: config.serverPath,
    args: [],
    env: nodeEnv(config),
    cwd: dir,
    logFile: join(dir, "server.log"),
  });
}

/** Resolves once the node accepts AMQP connections. */
export async function waitForAmqp(
  config: ClusterNodeConfig,
  server: ServerProcess,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(() => canConnect("127.0.0.1", config.amqpPort, 1_000), {
    timeoutMs,
    intervalMs: 100,
    failed: () =>
      server.exitReason === undefined ? undefined : `it exited (${server.exitReason})`,
  });
}

/** The last lines of the node's logs, for error messages. */
export function nodeLogTail(config: ClusterNodeConfig): string {
  const dir = nodeDir(config);
  return [tailOfFile(join(dir, "server.log"), 1024), tailOfFile(join(dir, "log", "node.log"), 3072)]
    .filter((text) => text.trim() !== "")
    .join("\n--- node log ---\n");
}

/**
 * Runs `rabbitmqctl -n <node> ...args` with the node's environment (so it
 * finds the shared cookie) and resolves with its stdout; rejects with its
 * stderr when it fails.
 */
export function rabbitmqctl(
  config: ClusterNodeConfig,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<string> {
  const ctl = join(config.serverPath, "..", "rabbitmqctl");
  return new Promise((resolve, reject) => {
    execFile(
      ctl,
      ["-n", config.name, ...args],
      { env: nodeEnv(config), timeout: timeoutMs, cwd: nodeDir(config) },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else
          reject(
            new Error(`rabbitmqctl ${args.join(" ")} on ${config.name} failed: ${stderr || error}`),
          );
      },
    );
  });
}

/** Waits until no process of the group is left (bounded). */
export async function waitGroupGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
  return !groupAlive(pid);
}
