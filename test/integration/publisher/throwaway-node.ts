/**
 * A throwaway RabbitMQ node for the publisher's fault tests: it can be
 * started on ports chosen before it runs (a service that starts before its
 * broker), stopped and started again with its data (a broker restart), and
 * driven with `rabbitmqctl` (a real memory alarm). Never the shared broker.
 */

import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";
import type { Warren } from "../../../src/client.ts";
import { findRabbitmqServer } from "../../../src/testing/broker-local.ts";
import { canConnect } from "../../../src/testing/docker.ts";
import { rabbitmqNodeEnv } from "../../../src/testing/node-env.ts";
import { freePorts } from "../../../src/testing/ports.ts";
import {
  onProcessExit,
  removeDir,
  type ServerProcess,
  startServerProcess,
  tailOfFile,
  waitUntil,
} from "../../../src/testing/process.ts";

const run = promisify(execFile);

export interface ThrowawayNode {
  url: string;
  amqpPort: number;
  /** Starts the node (again) and waits until AMQP answers. */
  start(): Promise<void>;
  /** Stops the node, keeping its data. */
  stop(): Promise<void>;
  /** Runs `rabbitmqctl -n <node> ...args`. */
  ctl(...args: string[]): Promise<string>;
  /** Stops the node and removes its data. */
  destroy(): Promise<void>;
}

/** Prepares a node on free ports; nothing runs until `start()`. */
export async function createThrowawayNode(): Promise<ThrowawayNode> {
  const serverPath = findRabbitmqServer(process.env);
  if (serverPath === undefined) throw new Error("rabbitmq-server is not installed");
  const dir = await mkdtemp(join(tmpdir(), "warren-pub-node-"));
  const [amqpPort, distPort] = (await freePorts(2)) as [number, number];
  const nodeName = `warren-pub-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`;
  await writeFile(join(dir, "enabled_plugins"), "[].\n");
  await writeFile(
    join(dir, "rabbitmq.conf"),
    [
      "loopback_users = none",
      `listeners.tcp.1 = 127.0.0.1:${amqpPort}`,
      "disk_free_limit.absolute = 1MB",
      "",
    ].join("\n"),
  );
  const env = rabbitmqNodeEnv(process.env, { dir, nodeName, amqpPort, distPort });
  const ctlPath = join(serverPath, "..", "rabbitmqctl");
  let server: ServerProcess | undefined;
  const unregister = onProcessExit(() => {
    if (server !== undefined) process.kill(-server.pid, "SIGKILL");
  });

  const stop = async () => {
    await server?.stop("SIGTERM", 15_000);
    server = undefined;
  };
  return {
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    amqpPort,
    async start() {
      const logFile = join(dir, "server.log");
      const started = startServerProcess({ command: serverPath, args: [], env, cwd: dir, logFile });
      server = started;
      try {
        await waitUntil(() => canConnect("127.0.0.1", amqpPort, 1_000), {
          timeoutMs: 60_000,
          intervalMs: 200,
          failed: () => started.exitReason,
        });
      } catch (error) {
        throw new Error(`throwaway node did not start: ${String(error)}\n${tailOfFile(logFile)}`);
      }
    },
    stop,
    async ctl(...args) {
      const { stdout } = await run(ctlPath, ["-n", nodeName, ...args], { env, timeout: 30_000 });
      return stdout;
    },
    async destroy() {
      await stop();
      await removeDir(dir);
      unregister();
    },
  };
}

/** What {@link useThrowawayNode} gives the tests of a file. */
export interface NodeForFile {
  /** The node; set once the file's `beforeAll` ran. */
  readonly node: ThrowawayNode;
  /** The client a test connects to the node: closed after the file, before the node goes. */
  warren: Warren | undefined;
}

/**
 * A throwaway node for the tests of one file: created (and started, unless
 * `started` is false) before them; after them the client a test stored in
 * `warren` is closed, then the node is destroyed with its data.
 */
export function useThrowawayNode(options: { started?: boolean } = {}): NodeForFile {
  let node: ThrowawayNode | undefined;
  const forFile: NodeForFile = {
    get node() {
      if (node === undefined) throw new Error("the throwaway node is not created yet");
      return node;
    },
    warren: undefined,
  };
  beforeAll(async () => {
    node = await createThrowawayNode();
    if (options.started !== false) await node.start();
  }, 120_000);
  afterAll(async () => {
    await forFile.warren?.close();
    await node?.destroy();
  }, 60_000);
  return forFile;
}
