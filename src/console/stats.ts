/**
 * Live queue figures for the page: the depth and consumers of every `Q`, its
 * tiers and `Q.dlq`, and the publish / deliver / ack rates of `Q`, read from
 * the management API (`GET /api/queues/{vhost}`, one request per sample).
 *
 * The server samples on its own timer and keeps the last few minutes, so a
 * page opened now already has a chart, and any number of open pages cost the
 * broker one request per interval. The management API's own figures lag by
 * its statistics interval (5 s by default), which is why the default sample
 * interval is no shorter.
 */
import { heldDeadLetters, type ManagementQueue } from "../management/client.ts";
import type { ConsoleTopology } from "./model.ts";

/** Depth and consumers of one queue (`Q`, a tier or `Q.dlq`). */
export interface QueueDepth {
  name: string;
  role: "work" | "retry" | "dlq";
  /** False when the broker has no such queue (the file declares it, nobody applied it). */
  exists: boolean;
  /** Ready messages; undefined before the broker's first statistics. */
  ready: number | undefined;
  /** Delivered, not yet acknowledged. */
  unacked: number | undefined;
  /**
   * Dead-lettered on their way out of a quorum queue, not yet accepted by
   * the target: counted by the broker, neither ready nor unacked
   * (docs/operations.md#held-dead-letters). Undefined before the first statistics.
   */
  held: number | undefined;
  consumers: number | undefined;
}

/** Messages per second through a work queue. */
export interface QueueRates {
  publish: number;
  deliver: number;
  ack: number;
}

/** Everything the page shows for one work queue. */
export interface WorkQueueStats {
  name: string;
  /** `Q`, then its tiers, then `Q.dlq`. */
  queues: QueueDepth[];
  rates: QueueRates;
}

/** One point of the chart: the rates of every work queue at `at`. */
export interface RateSample {
  /** Milliseconds since the epoch. */
  at: number;
  rates: Record<string, QueueRates>;
}

/** What `GET /api/stats` returns. */
export interface StatsSnapshot {
  /** When the last successful sample was taken (ms since the epoch). */
  at: number | undefined;
  /** Why the last sample failed, if it did (no credentials in it). */
  error: string | undefined;
  intervalMs: number;
  queues: WorkQueueStats[];
  /** Oldest first, at most `historyMs` old. */
  history: RateSample[];
}

function depth(
  name: string,
  role: QueueDepth["role"],
  found: ManagementQueue | undefined,
): QueueDepth {
  return {
    name,
    role,
    exists: found !== undefined,
    ready: found?.messages_ready,
    unacked: found?.messages_unacknowledged,
    held: found === undefined ? undefined : heldDeadLetters(found),
    consumers: found?.consumers,
  };
}

/** The page's figures from one listing of the vhost's queues (pure). */
export function statsFromListing(
  topology: ConsoleTopology,
  listing: readonly ManagementQueue[],
): WorkQueueStats[] {
  const byName = new Map(listing.map((q) => [q.name, q]));
  return topology.queues.map((queue) => {
    const work = byName.get(queue.name);
    const stats = work?.message_stats;
    return {
      name: queue.name,
      queues: [
        depth(queue.name, "work", work),
        ...queue.tiers.map((t) => depth(t.queue, "retry", byName.get(t.queue))),
        depth(queue.deadLetterQueue, "dlq", byName.get(queue.deadLetterQueue)),
      ],
      rates: {
        publish: stats?.publish_details?.rate ?? 0,
        deliver: stats?.deliver_get_details?.rate ?? 0,
        ack: stats?.ack_details?.rate ?? 0,
      },
    };
  });
}

/** Options of {@link QueueStatsSampler}. */
export interface SamplerOptions {
  /** Time between samples, in milliseconds. */
  intervalMs: number;
  /** How much history the chart keeps, in milliseconds. */
  historyMs: number;
  /** Turns a failure into a message safe to show (passwords masked). */
  describeError: (error: unknown) => string;
}

/** Samples the management API on a timer and keeps the recent history. */
export class QueueStatsSampler {
  readonly #topology: ConsoleTopology;
  readonly #list: () => Promise<ManagementQueue[]>;
  readonly #options: SamplerOptions;
  #timer: NodeJS.Timeout | undefined;
  #latest: WorkQueueStats[];
  #at: number | undefined;
  #error: string | undefined;
  #history: RateSample[] = [];
  #running: Promise<void> | undefined;

  constructor(
    topology: ConsoleTopology,
    list: () => Promise<ManagementQueue[]>,
    options: SamplerOptions,
  ) {
    this.#topology = topology;
    this.#list = list;
    this.#options = options;
    this.#latest = statsFromListing(topology, []);
  }

  /** Takes a first sample, then one every `intervalMs` until {@link stop}. */
  async start(): Promise<void> {
    await this.sample();
    this.#timer = setInterval(() => void this.sample(), this.#options.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now (a sample already running is shared, not doubled). */
  sample(): Promise<void> {
    this.#running ??= this.#take().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #take(): Promise<void> {
    try {
      const listing = await this.#list();
      const now = Date.now();
      this.#latest = statsFromListing(this.#topology, listing);
      this.#at = now;
      this.#error = undefined;
      this.#history.push({
        at: now,
        rates: Object.fromEntries(this.#latest.map((q) => [q.name, q.rates])),
      });
      const oldest = now - this.#options.historyMs;
      while ((this.#history[0]?.at ?? now) < oldest) this.#history.shift();
    } catch (error) {
      this.#error = this.#options.describeError(error);
    }
  }

  snapshot(): StatsSnapshot {
    return {
      at: this.#at,
      error: this.#error,
      intervalMs: this.#options.intervalMs,
      queues: this.#latest,
      history: [...this.#history],
    };
  }
}
