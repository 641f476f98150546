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
 * - ready messages in the queue at two checks in a row, while a lane has
 *   held no delivery since before the previous check: the broker owes that
 *   lane a message and does not send it. The lane's one unacked slot
 *   (prefetch 1) is taken, in the broker's books, by a delivery this
 *   process already settled. The three-node RabbitMQ 3.10.8 cluster was
 *   left in this state after the node leading a quorum queue was paused
 *   past the net tick time: every message handled, yet one unacked message
 *   per consumer and the rest ready, for 30 s (docs/reliability.md,
 *   scenario 4; most likely settles lost while the leader was out).
 *   Closing the channel hands that message back (the guard or the handler
 *   takes it again). On a single-active-consumer queue the waiting lanes
 *   are idle by design: only the active lane counts.
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

/**
 * Per queue: the previous check's start, and how many checks in a row read
 * a low consumer count, and ready messages.
 */
interface QueueWatchState {
  previousCheckAt: number;
  lowReadings: number;
  readyReadings: number;
}

const NOT_FOUND = 404;

/**
 * How long a lane must have been idle, at least, before it counts as owed a
 * delivery, whatever the interval: a busy broker can take a moment to send
 * the next message, and a short interval must not read that as a wedge.
 */
const MIN_OWED_IDLE_MS = 1_000;

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
      { previousCheckAt: performance.now(), lowReadings: 0, readyReadings: 0 },
    ]),
  );

  /** Drops the subscriptions of the lanes `stale` picks; logs and counts them. */
  function dropStale(
    watched: WatchedQueue,
    stale: (lane: Lane) => boolean,
    why: string,
    fields: Record<string, number> = {},
  ): void {
    let dropped = 0;
    for (const lane of watched.lanes) {
      if (stale(lane) && lane.dropStaleSubscription()) dropped++;
    }
    if (dropped === 0) return;
    options.onStale(watched.queue, dropped);
    options.logger.warn(
      { queue: watched.queue, lanes: dropped, ...fields },
      `${why}: subscribing them again`,
    );
  }

  /** Lanes subscribed since before `at`. */
  const subscribedBefore = (at: number) => (lane: Lane) =>
    (lane.subscribedSince ?? Number.POSITIVE_INFINITY) < at;

  async function checkOne(watched: WatchedQueue, state: QueueWatchState): Promise<void> {
    const startedAt = performance.now();
    let consumerCount: number;
    let messageCount: number;
    try {
      const open = await channel.get();
      ({ consumerCount, messageCount } = await open.checkQueue(watched.queue));
    } catch (error) {
      if ((error as { code?: unknown }).code !== NOT_FOUND) throw error;
      state.lowReadings = 0;
      state.readyReadings = 0;
      state.previousCheckAt = startedAt;
      // The broker answers NOT_FOUND as soon as the queue's record is gone,
      // which can be before its cancel notifications reach the channels:
      // a lane still subscribed after the grace did not get one.
      await new Promise((resolve) => setTimeout(resolve, cancelGraceMs(options.intervalMs)));
      dropStale(
        watched,
        subscribedBefore(startedAt),
        "the queue is gone, though no cancel came for these lanes",
      );
      return;
    }
    const since = state.previousCheckAt;
    const subscribed = watched.lanes.filter(subscribedBefore(since)).length;
    const expected = watched.singleActive ? Math.min(1, subscribed) : subscribed;
    state.lowReadings = consumerCount < expected ? state.lowReadings + 1 : 0;
    state.readyReadings = messageCount > 0 ? state.readyReadings + 1 : 0;
    if (state.lowReadings >= 2) {
      state.lowReadings = 0;
      dropStale(
        watched,
        subscribedBefore(since),
        "the broker counts fewer consumers of the queue than this process has lanes subscribed, though no cancel came for these lanes",
        { consumerCount, expected },
      );
    } else if (state.readyReadings >= 2) {
      // Each lane takes one message at a time (prefetch 1): one idle since
      // before the previous check, with messages ready all along, is owed
      // one the broker will not send (see the module comment).
      const idleBefore = Math.min(since, performance.now() - MIN_OWED_IDLE_MS);
      dropStale(
        watched,
        (lane) =>
          (lane.idleSince ?? Number.POSITIVE_INFINITY) < idleBefore &&
          (!watched.singleActive || lane.active),
        "the queue held ready messages at two checks in a row, yet these lanes got none since the first: the broker counts a delivery they settled as unacknowledged",
        { ready: messageCount },
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
