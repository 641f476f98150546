/**
 * `readQueueStatus`: what an on-call engineer asks of a set of work queues,
 * read from the broker in one go. For each work queue `Q`: ready and
 * unacknowledged messages in `Q`, in each retry tier and in `Q.dlq`, its
 * consumers, its publish and deliver rates, and how long the oldest dead
 * letter has been there. `statusProblems` turns a report into the findings
 * that gate a deploy (`warren status` exits 2 on them).
 *
 * Counts and rates come from the management API (its statistics lag the
 * broker by its `collect_statistics_interval`, 5 s by default); rates are
 * averaged over the last minute, since the instantaneous rate between two
 * samples often reads 0 on a busy queue. The age of
 * the oldest dead letter comes from the head of `Q.dlq`, read over AMQP with
 * `basic.get` and given back by closing the channel: a closed channel
 * returns an unacked message to the head of both classic and quorum queues,
 * where a requeueing nack would move it to a quorum queue's tail (see
 * src/dlq/walk.ts). The only trace it leaves is the redelivered flag (and
 * one more `x-delivery-count` on a quorum `Q.dlq`, which has no delivery
 * limit).
 *
 * Held dead letters: a quorum queue dead-letters at least once (warren
 * declares it so), keeping each dead-lettered message until its target
 * queue has confirmed it. The broker counts such messages in the queue's
 * total but neither as ready nor as unacked. The hop takes milliseconds;
 * messages held across readings are stuck (docs/operations.md#held-dead-letters).
 */
import type { ChannelModel, GetMessage } from "amqplib";
import { type BrokerEndpointOptions, resolveEndpoint } from "../connection/endpoint.ts";
import { openOneShotConnection } from "../connection/one-shot.ts";
import { HEADER } from "../headers.ts";
import { heldDeadLetters, ManagementClient, type ManagementQueue } from "../management/client.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { deadLetterQueueName } from "../topology/names.ts";

/** Options of {@link readQueueStatus}. */
export interface QueueStatusOptions extends BrokerEndpointOptions {
  /**
   * The work queues to report (and their vhost). Without it, every queue of
   * the vhost that is not a `.dlq` or a `.retry.<delay>` tier of another
   * one is a work queue.
   */
  topology?: CompiledTopology;
  /**
   * The vhost.
   * @default the topology's, else the URL's, else `/`
   */
  vhost?: string;
}

/** Counts of one broker queue. */
export interface QueueCounts {
  name: string;
  /** False when the queue does not exist on the broker (the counts are then 0). */
  exists: boolean;
  ready: number;
  unacked: number;
  /**
   * Messages the queue holds in its dead-letter hop: counted by the broker,
   * neither ready nor unacked (see the module comment).
   */
  held: number;
  consumers: number;
  /** Messages published into the queue per second, averaged over the last minute. */
  publishRate: number;
  /** Messages delivered from the queue per second (deliver + get), over the last minute. */
  deliverRate: number;
}

/** One work queue with its tiers and its dead-letter queue. */
export interface WorkQueueStatus extends QueueCounts {
  tiers: QueueCounts[];
  deadLetter: QueueCounts;
  /**
   * Seconds since the head of `Q.dlq` was dead-lettered (`warren-failed-at`,
   * else its publish timestamp); undefined when `Q.dlq` is empty.
   */
  oldestDeadLetterAgeSeconds: number | undefined;
}

/** What {@link readQueueStatus} found. */
export interface QueueStatusReport {
  vhost: string;
  /** When the report was read (ISO 8601). */
  readAt: string;
  queues: WorkQueueStatus[];
}

/** A finding that gates a deploy. */
export interface StatusProblem {
  kind: "dlq-not-empty" | "no-consumers" | "queue-missing" | "dead-letters-held";
  queue: string;
  detail: string;
}

/** Which findings count as problems. */
export interface StatusProblemOptions {
  /** @default true */
  deadLetters?: boolean;
  /** @default true */
  consumers?: boolean;
  /**
   * An earlier reading of the same queues. With it, held dead letters are a
   * problem only where that reading showed some too: the hop takes
   * milliseconds, so one reading can catch a message in flight. Without
   * it, any held count is one.
   */
  previous?: QueueStatusReport;
}

/** A work queue and its tiers that hold dead letters (a `Q.dlq` dead-letters nothing). */
function holdingDeadLetters(queue: WorkQueueStatus): QueueCounts[] {
  return [queue, ...queue.tiers].filter((q) => q.held > 0);
}

/** Queues (work queues and tiers) holding dead letters in `report`, by name. */
export function queuesHoldingDeadLetters(report: QueueStatusReport): Set<string> {
  return new Set(report.queues.flatMap((queue) => holdingDeadLetters(queue).map((q) => q.name)));
}

/** Rates are averaged over the last minute: see {@link readQueueStatus}. */
export const RATE_WINDOW_SECONDS = 60;

function perSecond(details: { rate?: number; avg_rate?: number } | undefined): number {
  return Math.round((details?.avg_rate ?? details?.rate ?? 0) * 10) / 10;
}

function counts(name: string, queue: ManagementQueue | undefined): QueueCounts {
  const stats = queue?.message_stats;
  return {
    name,
    exists: queue !== undefined,
    ready: queue?.messages_ready ?? 0,
    unacked: queue?.messages_unacknowledged ?? 0,
    held: (queue === undefined ? undefined : heldDeadLetters(queue)) ?? 0,
    consumers: queue?.consumers ?? 0,
    publishRate: perSecond(stats?.publish_details),
    deliverRate: perSecond(stats?.deliver_get_details),
  };
}

interface Layout {
  queue: string;
  tiers: string[];
  deadLetter: string;
}

/** `Q.p<n>`: a partition of `Q` (docs/topology.md#partitioned-queues). */
const PARTITION = /^(.+)\.p\d+$/;

/**
 * Work queues of a vhost by naming convention (docs/architecture.md#names-and-arguments).
 * A partition `Q.p<n>` is a work queue of its own whose dead-letter queue
 * is the shared `Q.dlq`.
 */
export function layoutFromNames(names: readonly string[]): Layout[] {
  const all = new Set(names);
  const partitionOf = (name: string) => {
    const base = PARTITION.exec(name)?.[1];
    return base !== undefined && all.has(deadLetterQueueName(base)) ? base : undefined;
  };
  const partitioned = new Set(
    names.map(partitionOf).filter((base): base is string => base !== undefined),
  );
  const isDerived = (name: string) =>
    (name.endsWith(".consumers") && partitioned.has(name.slice(0, -10))) ||
    (name.endsWith(".dlq") && (all.has(name.slice(0, -4)) || partitioned.has(name.slice(0, -4)))) ||
    (/\.retry\.[^.]+$/.test(name) && all.has(name.replace(/\.retry\.[^.]+$/, "")));
  return [...names]
    .filter((name) => !isDerived(name))
    .sort()
    .map((queue) => ({
      queue,
      tiers: names.filter((n) => n.startsWith(`${queue}.retry.`) && isDerived(n)).sort(),
      deadLetter: deadLetterQueueName(partitionOf(queue) ?? queue),
    }));
}

/** One row per work queue; a partitioned queue has one row per partition. */
function layoutFromTopology(topology: CompiledTopology): Layout[] {
  return Object.values(topology.retryPolicies).map((policy) => ({
    queue: policy.queue,
    tiers: [...new Set(policy.tiers.map((tier) => tier.queue))],
    deadLetter: policy.deadLetterQueue,
  }));
}

function failedAtMs(message: GetMessage): number | undefined {
  const header: unknown = message.properties.headers?.[HEADER.failedAt];
  const text = Buffer.isBuffer(header) ? header.toString("utf8") : header;
  if (typeof text === "string") {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  const timestamp: unknown = message.properties.timestamp;
  return typeof timestamp === "number" && timestamp > 0 ? timestamp * 1000 : undefined;
}

/** Seconds since the head of `queue` was dead-lettered; see the module comment. */
async function headAgeSeconds(
  connection: ChannelModel,
  queue: string,
  nowMs: number,
): Promise<number | undefined> {
  const channel = await connection.createChannel();
  channel.on("error", () => {
    // A failed get rejects below; the channel is gone with it.
  });
  try {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) return undefined;
    const at = failedAtMs(message);
    return at === undefined ? undefined : Math.max(0, (nowMs - at) / 1000);
  } finally {
    // Closing (not nacking) returns the message to the head: see above.
    await channel.close().catch(() => {});
  }
}

/**
 * Reads the status of the topology's work queues (or every work queue of
 * the vhost). Throws the management client's `ConnectionError`s and
 * `WARREN_BROKER_UNREACHABLE` / `WARREN_BROKER_AUTH` when a dead-letter
 * queue has messages and the AMQP connection cannot be opened.
 */
export async function readQueueStatus(options: QueueStatusOptions): Promise<QueueStatusReport> {
  const endpoint = await resolveEndpoint(options);
  const vhost = options.vhost ?? options.topology?.vhost ?? endpoint.urlVhost ?? "/";
  const management = ManagementClient.fromEndpoint(endpoint);
  const listed = await management.listQueues(vhost, { rateWindowSeconds: RATE_WINDOW_SECONDS });
  const byName = new Map(listed.map((queue) => [queue.name, queue]));
  const layouts =
    options.topology === undefined
      ? layoutFromNames(listed.map((queue) => queue.name))
      : layoutFromTopology(options.topology);
  const now = new Date();
  const queues: WorkQueueStatus[] = layouts.map((layout) => ({
    ...counts(layout.queue, byName.get(layout.queue)),
    tiers: layout.tiers.map((tier) => counts(tier, byName.get(tier))),
    deadLetter: counts(layout.deadLetter, byName.get(layout.deadLetter)),
    oldestDeadLetterAgeSeconds: undefined,
  }));
  const withDeadLetters = queues.filter((q) => q.deadLetter.ready > 0);
  if (withDeadLetters.length > 0) {
    const connection = await openOneShotConnection(endpoint, vhost, "warren status");
    connection.on("error", () => {});
    try {
      for (const queue of withDeadLetters) {
        queue.oldestDeadLetterAgeSeconds = await headAgeSeconds(
          connection,
          queue.deadLetter.name,
          now.getTime(),
        );
      }
    } finally {
      await connection.close().catch(() => {});
    }
  }
  return { vhost, readAt: now.toISOString(), queues };
}

/** The findings of a report that gate a deploy (see {@link StatusProblemOptions}). */
export function statusProblems(
  report: QueueStatusReport,
  options: StatusProblemOptions = {},
): StatusProblem[] {
  const problems: StatusProblem[] = [];
  // The partitions of one queue share its .dlq: report it once.
  const deadLettersReported = new Set<string>();
  const heldBefore = options.previous && queuesHoldingDeadLetters(options.previous);
  for (const queue of report.queues) {
    // A tier keeps what it holds when its work queue is gone.
    const confirmed = holdingDeadLetters(queue).filter(
      (q) => heldBefore === undefined || heldBefore.has(q.name),
    );
    for (const held of confirmed) {
      problems.push({
        kind: "dead-letters-held",
        queue: queue.name,
        detail: `${held.name} holds ${held.held} dead-lettered message${held.held === 1 ? "" : "s"} its target has not accepted: see docs/operations.md#held-dead-letters`,
      });
    }
    if (!queue.exists) {
      problems.push({
        kind: "queue-missing",
        queue: queue.name,
        detail: `${queue.name} does not exist in vhost "${report.vhost}": apply the topology`,
      });
      continue;
    }
    const dead = queue.deadLetter.ready + queue.deadLetter.unacked;
    if (
      options.deadLetters !== false &&
      dead > 0 &&
      !deadLettersReported.has(queue.deadLetter.name)
    ) {
      deadLettersReported.add(queue.deadLetter.name);
      problems.push({
        kind: "dlq-not-empty",
        queue: queue.name,
        detail: `${queue.deadLetter.name} holds ${dead} message${dead === 1 ? "" : "s"}: inspect with \`warren dlq list ${queue.deadLetter.name}\``,
      });
    }
    if (options.consumers !== false && queue.consumers === 0) {
      problems.push({
        kind: "no-consumers",
        queue: queue.name,
        detail: `${queue.name} has no consumer${queue.ready > 0 ? ` and ${queue.ready} ready` : ""}`,
      });
    }
  }
  return problems;
}
