/**
 * Spreads the partitions of a partitioned queue over the processes that
 * consume it (docs/consuming.md#partitioned-queues).
 *
 * Every process subscribes to every partition, and each partition has a
 * single active consumer: the broker delivers to the first subscriber and
 * keeps the others waiting, in line, as standbys (they take over when it
 * goes). On its own that gives every partition to the process that started
 * first. Every process also subscribes to the partitioned queue's empty
 * presence queue `Q.consumers`, whose consumer count (read with a passive
 * declare) is the number of processes `P`: a single-active-consumer queue
 * reports only its active consumer, so the partitions cannot tell. Every
 * `intervalMs` (jittered) each process reads `P` and applies two rules, each
 * of which moves one of its subscriptions to the back of its partition's
 * line (lane.ts):
 *
 * - Hand over: active on more than `ceil(N / P)` partitions, it hands one
 *   over at the next ack of that partition's lane, after the handler
 *   finished and before the ack, so the next process cannot start the
 *   partition's next message before this one ended.
 * - Step back: active on at least `floor(N / P)` partitions (it has its
 *   minimum), it steps back on the partitions where it has had no delivery
 *   for an interval, so that a process with fewer is ahead in line for the
 *   next hand-over. This check also runs as soon as a lane becomes active.
 *
 * - Rotate: when the processes do not divide the partitions (4 on 3), a
 *   process active on more than `floor(N / P)` for three intervals hands one
 *   over too: `ceil` alone would let 2 + 2 + 0 stand, and a process has no
 *   way to see that another one is idle. The extra partition then moves on
 *   every few intervals, and no process waits for ever.
 *
 * Hand-overs are at least two intervals apart, so the process that received
 * one has stepped back before the next.
 *
 * A hand-over keeps per-key order only with `prefetch` 1 (a message sent
 * ahead would be handled here while the next process handles the one after
 * it), so with a larger prefetch neither rule runs. A step back cancels a
 * subscription without deliveries: one that waits (nothing is ever in flight
 * to it) or that is active on a partition without traffic; a message the
 * broker sends to that one in the same round trip goes back to the queue
 * unhandled (lane.ts), so the next process takes it.
 */
import type { Logger } from "pino";
import type { ManagedConnection } from "../connection/connection.ts";
import { ReopeningChannel } from "../connection/reopening-channel.ts";
import type { Lane } from "./lane.ts";

/** How often a process compares its active partitions with its share, in ms. */
export const PARTITION_BALANCE_INTERVAL_MS = 2_000;

/** Starts balancing; `stop()` ends it. */
export function startPartitionBalancer(options: {
  lanes: readonly Lane[];
  /** Partition queue of each lane, by index. */
  queues: readonly string[];
  /** `Q.consumers` (see the module comment). */
  presenceQueue: string;
  connection: ManagedConnection;
  intervalMs?: number;
  logger: Logger;
}): { onActive(): void; stop(): Promise<void> } {
  const { lanes, queues, logger } = options;
  const intervalMs = options.intervalMs ?? PARTITION_BALANCE_INTERVAL_MS;
  const channel = new ReopeningChannel({
    host: options.connection,
    create: (model) => model.createChannel(),
    logger,
    name: "partition balance channel",
  });
  // The presence subscription, kept across channel and connection losses.
  // Nothing is published to the queue; a stray message is dropped (noAck).
  const presence = new ReopeningChannel({
    host: options.connection,
    create: (model) => model.createChannel(),
    onOpen: async (open) => {
      await open.consume(options.presenceQueue, () => {}, { noAck: true });
    },
    logger,
    name: "partition presence channel",
  });
  presence.keepOpen();
  let running: Promise<void> | undefined;
  let stopped = false;
  let processes = 1;
  let lastHandOver = Number.NEGATIVE_INFINITY;
  /** Active lanes at the last check, and since when that count holds. */
  let lastActive = 0;
  let activeSince = performance.now();

  async function check(): Promise<void> {
    if (options.connection.model === undefined) return; // reconnecting
    const open = await channel.get();
    const { consumerCount } = await open.checkQueue(options.presenceQueue);
    processes = Math.max(1, consumerCount);
    logger.debug({ processes, active: lanes.filter((l) => l.active).length }, "partition balance");
    if (processes === 1 || stopped) return;
    const active = lanes.filter((lane) => lane.active);
    const now = performance.now();
    if (active.length !== lastActive) {
      lastActive = active.length;
      activeSince = now;
    }
    const most = Math.ceil(lanes.length / processes);
    const least = Math.floor(lanes.length / processes);
    const over = active.length > most;
    const rotate = active.length > least && now - activeSince >= 3 * intervalMs;
    if ((over || rotate) && now - lastHandOver >= 2 * intervalMs) {
      lastHandOver = now;
      // A lane handling a message acks soon; an idle one may not for a while.
      const lane = active.findLast((l) => l.busy) ?? active[active.length - 1]!;
      logger.info(
        { partition: queues[lanes.indexOf(lane)], active: active.length, processes },
        over
          ? "active on more partitions than this process's share: handing one over"
          : "holding the extra partition for a while: handing it over",
      );
      lane.handOverAtNextAck();
    }
    stepBack();
  }

  function stepBack(): void {
    if (processes === 1 || stopped) return;
    const active = lanes.filter((lane) => lane.active).length;
    if (active < Math.floor(lanes.length / processes)) return;
    const quiet = lanes.filter((lane) => lane.quietMs >= intervalMs);
    if (quiet.length === 0) return;
    logger.debug(
      { partitions: quiet.map((lane) => queues[lanes.indexOf(lane)]), active, processes },
      "stepping back in line on partitions without deliveries",
    );
    for (const lane of quiet) lane.rejoin();
  }

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (stopped) return;
    // Jitter, so that processes started together do not check in lockstep.
    timer = setTimeout(tick, intervalMs * (0.75 + Math.random() / 2));
    timer.unref();
  };
  const tick = () => {
    running = check()
      .catch((error: unknown) => logger.debug({ err: error }, "partition balance not checked"))
      .finally(() => {
        running = undefined;
        schedule();
      });
  };
  schedule();

  return {
    onActive: stepBack,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.all([channel.close(), presence.close()]);
    },
  };
}
