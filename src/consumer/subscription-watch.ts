/**
 * Checks that the broker still holds a consumer's subscriptions.
 *
 * RabbitMQ tells a consumer that its queue was deleted with a basic.cancel,
 * and the lane then subscribes again until the queue is back (lane.ts). That
 * notice is not guaranteed. On a three-node RabbitMQ 3.10.8 cluster, a
 * quorum queue deleted through the management API sometimes notified the
 * channels of one consumer process and not the other's
 * (docs/reliability.md, scenario 11). The forgotten channels kept a consumer
 * tag the broker no longer knew. They received nothing, and they were not
 * consumers of the queue restored under the same name, so its messages sat
 * there with no consumer.
 *
 * Every `intervalMs` the watch reads each consumed queue with a passive
 * queue.declare, on a channel of its own (a failed check closes the channel
 * it runs on, as in depth.ts), and treats two answers as stale
 * subscriptions:
 * - NOT_FOUND: the queue is gone, so no subscription made before the check
 *   was sent can be alive. Its cancel may still be on the way: the broker
 *   drops the queue's record before it notifies the channels. Only lanes
 *   still subscribed after a grace (half the interval, at most 1 s) count;
 * - a consumer count below the number of this process's lanes subscribed
 *   since before the previous check (at most 1 on a single-active-consumer
 *   queue), at two checks in a row: the broker has
 *   forgotten some of them (which ones, it does not say). Two readings, so
 *   that a replica that has not yet applied a fresh subscription does not
 *   count.
 *
 * Stale lanes drop their channel and subscribe again
 * (`Lane.dropStaleSubscription`). Each is logged at warn and counted in
 * `warren_consumer_stale_subscriptions_total`. What it cannot see: a queue
 * deleted and restored between two checks, while other processes'
 * subscriptions make up the count.
 */
import type { Logger } from "pino";
import type { ManagedConnection } from "../connection/connection.ts";
import { ReopeningChannel } from "../connection/reopening-channel.ts";
import type { Lane } from "./lane.ts";
import { runPeriodically } from "./periodic.ts";

/** The lanes of one consumer that subscribe to one queue. */
export interface WatchedQueue {
  queue: string;
  lanes: readonly Lane[];
  /**
   * A single-active-consumer queue: a quorum one counts only its active
   * consumer, so the count can vouch for one lane at most.
   */
  singleActive: boolean;
}

/** Per queue: the previous check's start, and how many checks in a row read a low count. */
interface QueueWatchState {
  previousCheckAt: number;
  lowReadings: number;
}

const NOT_FOUND = 404;

/** How long a cancel notification may trail a NOT_FOUND: half the interval, at most 1 s. */
function cancelGraceMs(intervalMs: number): number {
  return Math.min(1_000, Math.floor(intervalMs / 2));
}

/** Starts checking; `stop()` ends it and closes its channel. */
export function startSubscriptionWatch(options: {
  connection: ManagedConnection;
  queues: readonly WatchedQueue[];
  intervalMs: number;
  logger: Logger;
  /** Counts the lanes of `queue` found stale. */
  onStale: (queue: string, lanes: number) => void;
}): { stop(): Promise<void> } {
  const channel = new ReopeningChannel({
    host: options.connection,
    create: (model) => model.createChannel(),
    logger: options.logger,
    name: "subscription check channel",
  });
  const states = new Map<string, QueueWatchState>(
    options.queues.map(({ queue }) => [
      queue,
      { previousCheckAt: performance.now(), lowReadings: 0 },
    ]),
  );

  /** Drops the stale subscriptions among `lanes`: those made before `before`. */
  function dropStale(watched: WatchedQueue, before: number, why: string): void {
    let dropped = 0;
    for (const lane of watched.lanes) {
      const since = lane.subscribedSince;
      if (since !== undefined && since < before && lane.dropStaleSubscription()) dropped++;
    }
    if (dropped === 0) return;
    options.onStale(watched.queue, dropped);
    options.logger.warn(
      { queue: watched.queue, lanes: dropped },
      `${why}, though no cancel came for these lanes: subscribing them again`,
    );
  }

  async function checkOne(watched: WatchedQueue, state: QueueWatchState): Promise<void> {
    const startedAt = performance.now();
    const subscribedBefore = (at: number) =>
      watched.lanes.filter((lane) => (lane.subscribedSince ?? Number.POSITIVE_INFINITY) < at)
        .length;
    let consumerCount: number;
    try {
      const open = await channel.get();
      ({ consumerCount } = await open.checkQueue(watched.queue));
    } catch (error) {
      if ((error as { code?: unknown }).code !== NOT_FOUND) throw error;
      state.lowReadings = 0;
      state.previousCheckAt = startedAt;
      // The broker answers NOT_FOUND as soon as the queue's record is gone,
      // which can be before its cancel notifications reach the channels:
      // a lane still subscribed after the grace did not get one.
      await new Promise((resolve) => setTimeout(resolve, cancelGraceMs(options.intervalMs)));
      dropStale(watched, startedAt, "the queue is gone");
      return;
    }
    const subscribed = subscribedBefore(state.previousCheckAt);
    const expected = watched.singleActive ? Math.min(1, subscribed) : subscribed;
    state.lowReadings = consumerCount < expected ? state.lowReadings + 1 : 0;
    if (state.lowReadings >= 2) {
      state.lowReadings = 0;
      dropStale(
        watched,
        state.previousCheckAt,
        `the broker counts ${consumerCount} consumers of the queue, fewer than this process's ${expected}`,
      );
    }
    state.previousCheckAt = startedAt;
  }

  async function check(): Promise<void> {
    if (options.connection.model === undefined) return; // reconnecting: lanes subscribe anew anyway
    for (const watched of options.queues) {
      const state = states.get(watched.queue);
      if (state !== undefined) await checkOne(watched, state);
    }
  }

  const periodic = runPeriodically({
    task: check,
    intervalMs: options.intervalMs,
    onError: (error) => options.logger.debug({ err: error }, "subscriptions not checked"),
  });

  return {
    async stop() {
      await periodic.stop();
      await channel.close();
    },
  };
}
