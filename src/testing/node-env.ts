/**
 * The environment of a throwaway RabbitMQ node's server and of
 * `rabbitmqctl` talking to it: every file of the node under one dir of its
 * own, so nodes started side by side (a cluster, a test's extra node, the
 * run's broker) share nothing, and nothing of the caller's RABBITMQ_*
 * settings leaks in.
 */
import { join } from "node:path";

export interface NodeEnvOptions {
  /** The node's dir: data, logs, config and plugin files go here. */
  dir: string;
  /** `HOME` of the node (its Erlang cookie lives there). @default dir */
  home?: string;
  /** `name@host`. */
  nodeName: string;
  amqpPort: number;
  /** The Erlang distribution port, for `rabbitmqctl` and cluster peers. */
  distPort: number;
  /** The node's log file; without it RabbitMQ picks one under `<dir>/log`. */
  logFile?: string;
}

/** `base` without its RABBITMQ_* variables, plus the node's own (see the module comment). */
export function rabbitmqNodeEnv(base: NodeJS.ProcessEnv, node: NodeEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!key.startsWith("RABBITMQ_")) env[key] = value;
  }
  const { dir } = node;
  return {
    ...env,
    HOME: node.home ?? dir,
    RABBITMQ_NODENAME: node.nodeName,
    RABBITMQ_NODE_PORT: String(node.amqpPort),
    RABBITMQ_DIST_PORT: String(node.distPort),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    ...(node.logFile === undefined ? {} : { RABBITMQ_LOGS: node.logFile }),
    RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
    RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_PID_FILE: join(dir, "node.pid"),
  };
}
