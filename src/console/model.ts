/**
 * What the console shows of a topology: exchanges, bindings, and each work
 * queue `Q` with its retry tiers and `Q.dlq` (docs/architecture.md, "Names and arguments").
 *
 * With a topology file it comes from the compiled topology, so the page shows
 * what the file declares even before anything exists on the broker. Without
 * one it is read from the broker and the queues are grouped by warren's
 * naming conventions alone: a queue `Q` is a work queue when `Q.dlq` exists,
 * and `Q.retry.<delay>` queues are its tiers.
 */
import type { ManagementClient } from "../management/client.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { deadLetterQueueName } from "../topology/names.ts";
import { normaliseObserved } from "../topology/observe.ts";

/** An exchange on the page. */
export interface ConsoleExchange {
  name: string;
  type: string;
}

/** A binding on the page: an exchange to a queue or to another exchange. */
export interface ConsoleBinding {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
}

/** One retry tier of a work queue. */
export interface ConsoleTier {
  queue: string;
  /** How long a failed message waits here, in milliseconds; undefined when unknown. */
  delayMs: number | undefined;
}

/** A work queue `Q` with the queues derived from it. */
export interface ConsoleQueue {
  name: string;
  /** `quorum` or `classic` (`unknown` before the broker reports it). */
  type: string;
  tiers: ConsoleTier[];
  deadLetterQueue: string;
  /** Attempts before a message is dead-lettered; undefined when read from the broker. */
  maxAttempts: number | undefined;
}

/** Everything the page draws and watches. */
export interface ConsoleTopology {
  vhost: string;
  /** Where the picture came from: the topology file, or the broker's queue names. */
  source: "file" | "broker";
  exchanges: ConsoleExchange[];
  bindings: ConsoleBinding[];
  queues: ConsoleQueue[];
}

/** The console's view of a compiled topology (pure). */
export function consoleTopologyFromCompiled(compiled: CompiledTopology): ConsoleTopology {
  const queues = compiled.queues
    // A partitioned queue shows as its partitions, each with its tiers and the shared .dlq.
    .filter((queue) => queue.role === "work" || queue.role === "partition")
    .map((queue): ConsoleQueue => {
      const policy = compiled.retryPolicies[queue.name];
      const tiers: ConsoleTier[] = [];
      for (const tier of policy?.tiers ?? []) {
        // A delay listed twice (`[1s, 1s, 10s]`) is one tier queue.
        if (!tiers.some((t) => t.queue === tier.queue)) {
          tiers.push({ queue: tier.queue, delayMs: tier.delayMs });
        }
      }
      return {
        name: queue.name,
        type: queue.type,
        tiers,
        deadLetterQueue: policy?.deadLetterQueue ?? deadLetterQueueName(queue.name),
        maxAttempts: policy?.maxAttempts,
      };
    });
  return {
    vhost: compiled.vhost,
    source: "file",
    exchanges: compiled.exchanges.map((e) => ({ name: e.name, type: e.type })),
    bindings: compiled.bindings.map((b) => ({
      source: b.source,
      destination: b.destination,
      destinationType: b.destinationType,
      routingKey: b.routingKey,
    })),
    queues,
  };
}

const RETRY_INFIX = ".retry.";

/** Groups a vhost's queue names by warren's conventions (pure). */
export function groupQueueNames(
  names: readonly { name: string; type: string; ttlMs: number | undefined }[],
): ConsoleQueue[] {
  const byName = new Map(names.map((q) => [q.name, q]));
  // `Q.p<n>` next to a `Q.dlq` is a partition of `Q` (docs/topology.md#partitioned-queues).
  const partitionOf = (name: string) => {
    const base = /^(.+)\.p\d+$/.exec(name)?.[1];
    return base !== undefined && byName.has(deadLetterQueueName(base)) ? base : undefined;
  };
  const work = names
    .filter(
      (q) =>
        !q.name.endsWith(".dlq") &&
        (byName.has(deadLetterQueueName(q.name)) || partitionOf(q.name) !== undefined),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
  return work.map((q) => ({
    name: q.name,
    type: q.type,
    tiers: names
      .filter((t) => t.name.startsWith(`${q.name}${RETRY_INFIX}`))
      .sort((a, b) => (a.ttlMs ?? 0) - (b.ttlMs ?? 0))
      .map((t) => ({ queue: t.name, delayMs: t.ttlMs })),
    deadLetterQueue: deadLetterQueueName(partitionOf(q.name) ?? q.name),
    maxAttempts: undefined,
  }));
}

/** Reads the console's view of `vhost` from the broker, when no topology file is given. */
export async function discoverTopology(
  client: ManagementClient,
  vhost: string,
): Promise<ConsoleTopology> {
  // Listed directly rather than through observeTopology, whose vhost check
  // needs an administrator: the console needs only the `management` tag.
  const [exchanges, listed, bindings] = await Promise.all([
    client.listExchanges(vhost),
    client.listQueues(vhost),
    client.listBindings(vhost),
  ]);
  const observed = normaliseObserved(vhost, { exchanges, queues: listed, bindings });
  const queues = groupQueueNames(
    observed.queues.map((q) => {
      const ttl = q.arguments["x-message-ttl"];
      return { name: q.name, type: q.type, ttlMs: typeof ttl === "number" ? ttl : undefined };
    }),
  );
  const shown = new Set(queues.flatMap((q) => [q.name]));
  return {
    vhost,
    source: "broker",
    exchanges: observed.exchanges.map((e) => ({ name: e.name, type: e.type })),
    bindings: observed.bindings
      .filter((b) => b.destinationType === "exchange" || shown.has(b.destination))
      .map((b) => ({
        source: b.source,
        destination: b.destination,
        destinationType: b.destinationType,
        routingKey: b.routingKey,
      })),
    queues,
  };
}

/** Every queue name the console watches: each `Q`, its tiers and `Q.dlq`. */
export function watchedQueueNames(topology: ConsoleTopology): string[] {
  return topology.queues.flatMap((q) => [
    q.name,
    ...q.tiers.map((t) => t.queue),
    q.deadLetterQueue,
  ]);
}
