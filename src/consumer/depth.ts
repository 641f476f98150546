/**
 * Feeds the `warren_queue_depth` gauge (docs/architecture.md#metrics-and-health):
 * at start and then every interval, the ready-message count of a work
 * queue, each of its retry tiers and its dead-letter queue, read with
 * `queue.declare passive` on a channel of the consumer connection. The same
 * answer carries the broker's consumer count of the work queue, which feeds
 * `warren_queue_consumers` and the autoscaling signal
 * `warren_queue_ready_per_consumer`. The channel is its own: a failed check closes the
 * channel it runs on, and must never take a lane's deliveries with it.
 */
import type { Logger } from "pino";
import type { ManagedConnection } from "../connection/connection.ts";
import { ReopeningChannel } from "../connection/reopening-channel.ts";
import type { WarrenMetrics } from "../observability/metrics.ts";
import type { RetryPolicy } from "../topology/model.ts";
import { runPeriodically } from "./periodic.ts";

/**
 * The queues whose depth is sampled for a work queue: itself, its tiers, its
 * DLQ; for a partitioned queue every partition and its tiers, and the DLQ once.
 */
export function depthQueues(...policies: RetryPolicy[]): string[] {
  return [
    ...new Set(
      policies.flatMap((policy) => [
        policy.queue,
        ...policy.tiers.map((t) => t.queue),
        policy.deadLetterQueue,
      ]),
    ),
  ];
}

/** Starts sampling; `stop()` ends it and closes its channel. */
export function startDepthSampler(options: {
  connection: ManagedConnection;
  /** One per queue consumed (one per partition of a partitioned queue). */
  policies: RetryPolicy[];
  metrics: WarrenMetrics;
  intervalMs: number;
  logger: Logger;
}): { stop(): Promise<void> } {
  const queues = depthQueues(...options.policies);
  const workQueues = new Set(options.policies.map((policy) => policy.queue));
  // Opened lazily and replaced after a failed check (which closes it); the
  // interval paces the retries, so it is not kept open in between.
  const channel = new ReopeningChannel({
    host: options.connection,
    create: (model) => model.createChannel(),
    logger: options.logger,
    name: "queue depth channel",
  });

  async function sample(): Promise<void> {
    if (options.connection.model === undefined) return; // reconnecting: try at the next tick
    const open = await channel.get();
    const { metrics } = options;
    for (const queue of queues) {
      const { messageCount, consumerCount } = await open.checkQueue(queue);
      metrics.queueDepth.set({ queue }, messageCount);
      if (workQueues.has(queue)) {
        metrics.brokerConsumers.set({ queue }, consumerCount);
        metrics.readyPerConsumer.set({ queue }, messageCount / Math.max(1, consumerCount));
      }
    }
  }

  // At start too: a dashboard should not wait one interval for the first value.
  const periodic = runPeriodically({
    task: sample,
    intervalMs: options.intervalMs,
    onError: (error) => options.logger.debug({ err: error }, "queue depth not read"),
    runNow: true,
  });

  return {
    async stop() {
      await periodic.stop();
      await channel.close();
    },
  };
}
