/**
 * The broker objects a topology compiles to (docs/architecture.md#names-and-arguments). `compileTopology`
 * produces a {@link CompiledTopology} from a validated topology; `plan`,
 * `apply` and `export` consume it and never look at the file again, and the
 * runtime reads each queue's {@link RetryPolicy} from it.
 *
 * Arguments are kept exactly as they are sent to the broker (`x-` keys,
 * milliseconds as numbers), so comparing with the live broker is a plain
 * value comparison.
 */

/**
 * `x-consistent-hash` comes from the `rabbitmq_consistent_hash_exchange`
 * plugin (shipped with RabbitMQ); warren declares it only in front of a
 * partitioned queue.
 */
export type ExchangeType = "direct" | "fanout" | "topic" | "headers" | "x-consistent-hash";
export type QueueType = "quorum" | "classic";

/** AMQP table of `x-` arguments, as sent in exchange.declare / queue.declare. */
export type BrokerArguments = Record<string, string | number | boolean>;

export interface ExchangeObject {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: BrokerArguments;
}

/**
 * What a queue is for: the declared work queue, one partition of a
 * partitioned work queue, one of their retry tiers, a dead-letter queue, or
 * (`delay`) the wait queue of an exchange's publish delay, or (`presence`)
 * the empty queue whose consumers are the processes of a partitioned queue.
 */
export type QueueRole = "work" | "partition" | "retry" | "dlq" | "delay" | "presence";

export interface QueueObject {
  name: string;
  role: QueueRole;
  /**
   * The work queue this object belongs to (itself for `work`; the
   * partitioned queue `Q` for a partition and for the tiers of a partition;
   * the exchange for `delay`).
   */
  owner: string;
  type: QueueType;
  /** Always true: warren never declares a non-durable queue. */
  durable: true;
  /** Includes `x-queue-type`. */
  arguments: BrokerArguments;
}

export interface BindingObject {
  /** Source exchange. */
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  /** Empty string for fanout and headers bindings. */
  routingKey: string;
  /** Header matches (`x-match` plus the headers) for headers exchanges. */
  arguments: BrokerArguments;
}

/** One retry tier: failed messages wait `delayMs` in `queue`, then return. */
export interface RetryTier {
  delayMs: number;
  /** `Q.retry.<delay>`, e.g. `orders.fulfil.retry.10s`. */
  queue: string;
}

/**
 * How the runtime retries a work queue. Attempt `n` (1-based) that fails with
 * `n < maxAttempts` waits in `tiers[min(n, tiers.length) - 1]`; when
 * `n = maxAttempts` the message goes to `deadLetterQueue`.
 */
export interface RetryPolicy {
  queue: string;
  maxAttempts: number;
  tiers: RetryTier[];
  deadLetterQueue: string;
}

/**
 * One declared publish delay of an exchange: `publish(..., { delay })` sends
 * the message to the fanout exchange `name`, whose queue `name` holds it for
 * `delayMs` and then dead-letters it into `exchange` with its routing key.
 */
export interface DelayTier {
  exchange: string;
  delayMs: number;
  /** `X.delay.<delay>`: both the wait exchange and the wait queue. */
  name: string;
}

/** How a partitioned queue picks a message's partition: what is hashed. */
export type PartitionKey =
  | { kind: "routingKey" }
  | { kind: "messageId" }
  | { kind: "header"; header: string };

/**
 * A partitioned queue `Q` (docs/topology.md#partitioned-queues): no queue
 * named `Q` exists; the consistent-hash exchange `exchange` spreads messages
 * over `partitions` by the hash of `key`, and each partition has its own
 * retry policy (its own tiers, the shared `Q.dlq`).
 */
export interface PartitionedQueue {
  queue: string;
  /** `Q.partitions`, type `x-consistent-hash`. */
  exchange: string;
  key: PartitionKey;
  /** One per partition, in order: `Q.p0 … Q.p<N-1>`. */
  partitions: RetryPolicy[];
  /** `Q.consumers`: one subscription per consuming process (see names.ts). */
  presenceQueue: string;
}

export interface CompiledTopology {
  vhost: string;
  /** In declaration order: an exchange comes after those it depends on. */
  exchanges: ExchangeObject[];
  queues: QueueObject[];
  bindings: BindingObject[];
  /** Keyed by work queue name (for a partitioned queue: by partition, `Q.p0`, ...). */
  retryPolicies: Record<string, RetryPolicy>;
  /** Partitioned queues, keyed by `Q` (absent when the topology has none). */
  partitioned?: Record<string, PartitionedQueue>;
  /** Declared publish delays, keyed by exchange name (exchanges without delays are absent). */
  delays: Record<string, DelayTier[]>;
}
