/**
 * What a partitioned queue compiles to (docs/topology.md#partitioned-queues).
 * A queue `Q` with `partitions: N` is not one queue but:
 *
 * - the exchange `Q.partitions`, type `x-consistent-hash` (plugin
 *   `rabbitmq_consistent_hash_exchange`), which hashes the routing key, or
 *   the `message_id` property (`hash-property: message_id`), or one header
 *   (`hash-header: <name>`), so that every message of one key reaches the
 *   same partition;
 * - the work queues `Q.p0 … Q.p<N-1>`, each bound to it with weight `"1"`
 *   (equal shares of the hash ring), each with the arguments `Q` would have
 *   plus `x-single-active-consumer: true`: however many processes consume,
 *   the broker delivers one partition to one of them at a time, in order;
 * - per partition its own retry tiers `Q.p<i>.retry.<delay>`, which
 *   dead-letter back to that partition (never through the hash exchange:
 *   a retried message must not change partition);
 * - one dead-letter queue `Q.dlq` shared by every partition;
 * - the empty queue `Q.consumers`, which no message reaches: every process
 *   that consumes `Q` subscribes to it, and its consumer count tells the
 *   processes how many they are, so they can share the partitions
 *   (consumer/partition-balance.ts).
 *
 * The queue's own `bindings` bind `Q.partitions` (exchange to exchange), so
 * publishers keep publishing to the same exchange with the same routing keys.
 */
import type {
  BindingObject,
  BrokerArguments,
  ExchangeObject,
  PartitionedQueue,
  PartitionKey,
  QueueObject,
  RetryPolicy,
} from "./model.ts";
import {
  deadLetterQueueName,
  partitionExchangeName,
  partitionQueueName,
  presenceQueueName,
  retryQueueName,
} from "./names.ts";
import type { QueueDefinition } from "./schema.ts";
import { retryTierQueues } from "./tier-queues.ts";

/** Name of the consistent-hash exchange type, as the plugin registers it. */
export const CONSISTENT_HASH_EXCHANGE_TYPE = "x-consistent-hash";

/** The plugin that provides {@link CONSISTENT_HASH_EXCHANGE_TYPE}. */
export const CONSISTENT_HASH_PLUGIN = "rabbitmq_consistent_hash_exchange";

/**
 * Binding key of each partition on the hash exchange: the plugin reads it as
 * the partition's weight (points on the hash ring); equal weights give equal
 * shares.
 */
export const PARTITION_WEIGHT = "1";

/** The default key of a partitioned queue: the routing key. */
export const DEFAULT_PARTITION_KEY: PartitionKey = Object.freeze({ kind: "routingKey" });

/** The hash exchange's arguments for `key`: none for the routing key. */
export function hashExchangeArguments(key: PartitionKey): BrokerArguments {
  switch (key.kind) {
    case "routingKey":
      return {};
    case "messageId":
      return { "hash-property": "message_id" };
    case "header":
      return { "hash-header": key.header };
  }
}

/** The broker objects and retry policies of one partitioned queue. */
export interface CompiledPartitions {
  exchange: ExchangeObject;
  queues: QueueObject[];
  /** Hash exchange → each partition. */
  bindings: BindingObject[];
  partitioned: PartitionedQueue;
}

/**
 * Compiles queue `name` with `partitions: N`. `workArguments` are the
 * arguments a plain work queue `name` would get (dead-lettering into
 * `name.dlq`, limits, raw arguments); every partition gets them too.
 */
export function compilePartitions(
  name: string,
  queue: QueueDefinition & { partitions: number },
  workArguments: BrokerArguments,
  tierArguments: (partition: string, delayMs: number) => BrokerArguments,
  deadLetterArguments: BrokerArguments,
): CompiledPartitions {
  const key = queue.partitionBy ?? DEFAULT_PARTITION_KEY;
  const exchangeName = partitionExchangeName(name);
  const deadLetterQueue = deadLetterQueueName(name);
  const queues: QueueObject[] = [];
  const bindings: BindingObject[] = [];
  const policies: RetryPolicy[] = [];
  for (let index = 0; index < queue.partitions; index++) {
    const partition = partitionQueueName(name, index);
    const policy: RetryPolicy = {
      queue: partition,
      maxAttempts: queue.retry.maxAttempts,
      tiers: queue.retry.delaysMs.map((delayMs) => ({
        delayMs,
        queue: retryQueueName(partition, delayMs),
      })),
      deadLetterQueue,
    };
    policies.push(policy);
    queues.push({
      name: partition,
      role: "partition",
      owner: name,
      type: queue.type,
      durable: true,
      arguments: { ...workArguments, "x-single-active-consumer": true },
    });
    queues.push(...retryTierQueues(policy, name, queue.type, partition, tierArguments));
    bindings.push({
      source: exchangeName,
      destination: partition,
      destinationType: "queue",
      routingKey: PARTITION_WEIGHT,
      arguments: {},
    });
  }
  queues.push({
    name: deadLetterQueue,
    role: "dlq",
    owner: name,
    type: queue.type,
    durable: true,
    arguments: deadLetterArguments,
  });
  const presenceQueue = presenceQueueName(name);
  queues.push({
    name: presenceQueue,
    role: "presence",
    owner: name,
    type: queue.type,
    durable: true,
    arguments: deadLetterArguments,
  });
  return {
    exchange: {
      name: exchangeName,
      type: CONSISTENT_HASH_EXCHANGE_TYPE,
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: hashExchangeArguments(key),
    },
    queues,
    bindings,
    partitioned: { queue: name, exchange: exchangeName, key, partitions: policies, presenceQueue },
  };
}

/** The partitioned queue a partition or one of its tiers belongs to, if any. */
export function partitionedQueueOf(
  partitioned: Record<string, PartitionedQueue> | undefined,
  queue: string,
): PartitionedQueue | undefined {
  if (partitioned === undefined) return undefined;
  if (Object.hasOwn(partitioned, queue)) return partitioned[queue];
  return Object.values(partitioned).find((p) => p.partitions.some((q) => q.queue === queue));
}
