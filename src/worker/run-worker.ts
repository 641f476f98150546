/**
 * `runWorker`: the process shape of `warren worker` as a library function.
 * It connects with the topology, starts one consumer per worker definition,
 * serves `/healthz`, `/readyz` and `/metrics`, and on `stop()` drains:
 * readiness goes false first (so the orchestrator stops routing probes'
 * traffic), consumers stop taking messages, in-flight handlers get until the
 * drain deadline, then the connections close. Nothing is lost either way: a
 * message whose handler did not finish in time was never acked and the
 * broker redelivers it. `pause()` and `resume()` hold and release every
 * consumer for an operator. The library never installs signal handlers; the
 * CLI wires SIGTERM and SIGINT to `stop()`, SIGUSR1 to `pause()` and SIGUSR2
 * to `resume()`.
 */
import type { SocketOptions } from "amqplib";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { connect, type Warren } from "../client.ts";
import type { Consumer } from "../consumer/consume.ts";
import { type HealthServer, healthServerDefaults, serveHealth } from "../observability/health.ts";
import type { CompiledTopology } from "../topology/model.ts";
import type { Topology } from "../topology/schema.ts";
import type { WorkerDefinition } from "./define-worker.ts";

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** Broker URL (or the nodes of a cluster). */
  url: string | readonly string[];
  /** TLS and other socket options for amqps URLs (see `connect`). */
  socketOptions?: SocketOptions;
  /**
   * Socket timeout of one connect attempt, in milliseconds.
   * @default connect's (10000)
   */
  connectTimeoutMs?: number;
  topology: Topology | CompiledTopology;
  workers: readonly WorkerDefinition[];
  /** Overrides every worker's `concurrency` when set. */
  concurrency?: number;
  /**
   * How long `stop()` waits for in-flight handlers, in milliseconds.
   * @default 30000
   */
  drainTimeoutMs?: number;
  /**
   * Health and metrics port; 0 picks a free one.
   * @default 9464
   */
  healthPort?: number;
  /**
   * Interface of the health server. All interfaces by default: Kubernetes
   * probes and Prometheus reach the pod's address, not its loopback.
   * @default "0.0.0.0"
   */
  healthHost?: string;
  logger: Logger;
  /** @default a fresh registry (served at /metrics) */
  registry?: Registry;
  /** Names the connections in the management UI. @default "warren-worker" */
  serviceName?: string;
  /** OpenTelemetry traces (see `connect`). @default false */
  tracing?: boolean;
}

/** Defaults of {@link RunWorkerOptions}. */
export const runWorkerDefaults = Object.freeze({
  drainTimeoutMs: 30_000,
  healthPort: healthServerDefaults.port,
  healthHost: "0.0.0.0",
  serviceName: "warren-worker",
});

/** How a drain ended. */
export interface DrainResult {
  /** True when every in-flight handler finished before the deadline. */
  completed: boolean;
  /** Queues whose handlers were still running at the deadline. */
  unfinished: string[];
}

/** A running worker process. */
export interface RunningWorker {
  readonly warren: Warren;
  readonly health: HealthServer;
  readonly consumers: readonly Consumer[];
  /**
   * Stops every consumer taking messages until {@link RunningWorker.resume}
   * (`pause()` on each): running handlers finish and settle, messages not
   * started stay in their queues. `/readyz` stays 200 and names each paused
   * queue in `degraded`: a paused worker needs no restart. Resolves once
   * every subscription is cancelled.
   */
  pause(): Promise<void>;
  /**
   * Takes messages again after {@link RunningWorker.pause}, and ends any
   * tripped or probing kill switch at once (`resume()` on each consumer).
   */
  resume(): void;
  /** Drains and closes (idempotent); see the module comment. */
  stop(): Promise<DrainResult>;
}

/** Starts the workers; see the module comment. */
export async function runWorker(options: RunWorkerOptions): Promise<RunningWorker> {
  const registry = options.registry ?? new Registry();
  const drainTimeoutMs = options.drainTimeoutMs ?? runWorkerDefaults.drainTimeoutMs;
  const warren = await connect({
    url: options.url,
    topology: options.topology,
    logger: options.logger,
    registry,
    serviceName: options.serviceName ?? runWorkerDefaults.serviceName,
    ...(options.socketOptions === undefined ? {} : { socketOptions: options.socketOptions }),
    ...(options.connectTimeoutMs === undefined
      ? {}
      : { connectTimeoutMs: options.connectTimeoutMs }),
    ...(options.tracing === true ? { tracing: true } : {}),
  });
  let stopping = false;
  const consumers: Consumer[] = [];
  let health: HealthServer | undefined;
  try {
    for (const worker of options.workers) {
      consumers.push(
        await warren.consume(worker.queue, worker.handler, {
          ...worker.options,
          drainTimeoutMs,
          ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
        }),
      );
    }
    health = await serveHealth({
      registry,
      readiness: () => {
        const readiness = warren.readiness();
        return stopping
          ? { ...readiness, ready: false, reasons: ["draining", ...readiness.reasons] }
          : readiness;
      },
      port: options.healthPort ?? runWorkerDefaults.healthPort,
      host: options.healthHost ?? runWorkerDefaults.healthHost,
    });
  } catch (error) {
    await warren.close();
    throw error;
  }
  const server = health;
  let stopped: Promise<DrainResult> | undefined;
  const stop = async (): Promise<DrainResult> => {
    stopping = true;
    options.logger.info({ drainTimeoutMs }, "draining: no new messages, waiting for handlers");
    await warren.close();
    await server.close();
    const unfinished = consumers.filter((c) => c.drainCompleted === false).map((c) => c.queue);
    return { completed: unfinished.length === 0, unfinished };
  };
  return {
    warren,
    health: server,
    consumers,
    pause: async () => {
      if (stopping) return;
      options.logger.info(
        { queues: consumers.map((c) => c.queue) },
        "worker paused: no messages taken until resumed",
      );
      await Promise.all(consumers.map((consumer) => consumer.pause()));
    },
    resume: () => {
      if (stopping) return;
      options.logger.info({ queues: consumers.map((c) => c.queue) }, "worker resumed");
      for (const consumer of consumers) consumer.resume();
    },
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
  };
}
