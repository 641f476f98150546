/**
 * Turns a validated topology into the broker objects it stands for
 * (docs/architecture.md#names-and-arguments). The mapping, and why:
 *
 * - Every work queue `Q` dead-letters to `Q.dlq` through the default exchange
 *   (`x-dead-letter-exchange: ""`, `x-dead-letter-routing-key: Q.dlq`), so
 *   whatever the broker gives up on (delivery limit, TTL, overflow) lands
 *   where `warren dlq` looks. `deadLetter` overrides only this broker path;
 *   the runtime still sends its own failures to `Q.dlq`.
 * - Quorum queues get `x-delivery-limit` (crash-loop cap, `deliveryLimit`,
 *   default 20) and `x-dead-letter-strategy: at-least-once`, which RabbitMQ
 *   honours only with `x-overflow: reject-publish` (checked on 3.10.8: with
 *   drop-head an unroutable dead letter is dropped, with reject-publish it
 *   is kept until it can be delivered), so that one is fixed too:
 *   a full quorum queue refuses publishes (the publisher sees a nack) instead
 *   of dropping its oldest message.
 * - Each distinct retry delay is a queue `Q.retry.<delay>` with a per-queue
 *   `x-message-ttl` (FIFO expiry, no head-of-line blocking) that
 *   dead-letters back to `Q`. Quorum tiers also dead-letter at-least-once
 *   with reject-publish, so a message whose wait is over is not lost when
 *   `Q` is full: it stays in the tier until `Q` takes it.
 * - Each delay an exchange `X` declares (`delays: [10m]`) is a fanout
 *   exchange and a queue, both `X.delay.<delay>`. `publish(..., { delay })`
 *   sends to that exchange, which keeps the message's routing key (the
 *   default exchange would replace it with the queue name); the queue's
 *   `x-message-ttl` holds it, and it dead-letters into `X` without an
 *   `x-dead-letter-routing-key`, so the broker routes it with its own key.
 *   The wait queues are quorum, at-least-once: a message whose wait is over
 *   stays in the wait queue until `X` routes it, instead of being dropped.
 * - `Q.dlq` has the same type as `Q` and no dead-letter target of its own.
 * - `initialGroupSize` (`x-quorum-initial-group-size`, how many nodes hold
 *   a replica) goes on `Q`, its tiers and its `.dlq` alike: a message must
 *   survive the loss of a node wherever it waits.
 * - A queue with `partitions: N` becomes a consistent-hash exchange and N
 *   partition queues, each with its own tiers (./partitions.ts).
 * - Typed options map one to one (`maxLength` → `x-max-length`, `messageTtl`
 *   → `x-message-ttl`, ...); raw `arguments` go on `Q` only, never on its
 *   tiers or its `.dlq` (an `x-expires` there could delete dead letters).
 */
import type {
  BindingObject,
  BrokerArguments,
  CompiledTopology,
  DelayTier,
  ExchangeObject,
  PartitionedQueue,
  QueueObject,
  RetryPolicy,
  RetryTier,
} from "./model.ts";
import { deadLetterQueueName, delayName, retryQueueName } from "./names.ts";
import { compilePartitions } from "./partitions.ts";
import type { BindingDefinition, QueueDefinition, Topology } from "./schema.ts";
import { retryTierQueues } from "./tier-queues.ts";

/** Compiles a validated topology into broker objects and retry policies. Pure. */
export function compileTopology(topology: Topology): CompiledTopology {
  const exchanges = exchangeOrder(topology).map((name): ExchangeObject => {
    const exchange = topology.exchanges[name]!;
    return {
      name,
      type: exchange.type,
      durable: exchange.durable,
      autoDelete: exchange.autoDelete,
      internal: exchange.internal,
      arguments:
        exchange.alternateExchange === undefined
          ? {}
          : { "alternate-exchange": exchange.alternateExchange },
    };
  });

  const bindings: BindingObject[] = [];
  for (const { name } of exchanges) {
    for (const binding of topology.exchanges[name]!.bindings) {
      bindings.push(bindingObject(binding, name, "exchange"));
    }
  }

  const queues: QueueObject[] = [];
  const retryPolicies: Record<string, RetryPolicy> = {};
  const partitioned: Record<string, PartitionedQueue> = {};
  for (const [name, queue] of Object.entries(topology.queues)) {
    const tierArguments = (target: string, delayMs: number): BrokerArguments => ({
      "x-queue-type": queue.type,
      "x-message-ttl": delayMs,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": target,
      ...(queue.type === "quorum" ? AT_LEAST_ONCE : {}),
      ...replicas(queue),
    });
    const deadLetterArguments = { "x-queue-type": queue.type, ...replicas(queue) };
    if (queue.partitions !== undefined) {
      const compiled = compilePartitions(
        name,
        { ...queue, partitions: queue.partitions },
        workQueueArguments(name, queue),
        tierArguments,
        deadLetterArguments,
      );
      exchanges.push(compiled.exchange);
      queues.push(...compiled.queues);
      bindings.push(...compiled.bindings);
      partitioned[name] = compiled.partitioned;
      for (const policy of compiled.partitioned.partitions) retryPolicies[policy.queue] = policy;
      // The queue's bindings feed the hash exchange instead of a queue `name`.
      for (const binding of queue.bindings) {
        bindings.push(bindingObject(binding, compiled.exchange.name, "exchange"));
      }
      continue;
    }
    const policy = retryPolicy(name, queue);
    retryPolicies[name] = policy;
    queues.push({
      name,
      role: "work",
      owner: name,
      type: queue.type,
      durable: true,
      arguments: workQueueArguments(name, queue),
    });
    queues.push(...retryTierQueues(policy, name, queue.type, name, tierArguments));
    queues.push({
      name: policy.deadLetterQueue,
      role: "dlq",
      owner: name,
      type: queue.type,
      durable: true,
      arguments: deadLetterArguments,
    });
    for (const binding of queue.bindings) bindings.push(bindingObject(binding, name, "queue"));
  }

  const delays: Record<string, DelayTier[]> = {};
  for (const [name, exchange] of Object.entries(topology.exchanges)) {
    const tiers = [...new Set(exchange.delaysMs)].map(
      (delayMs): DelayTier => ({ exchange: name, delayMs, name: delayName(name, delayMs) }),
    );
    if (tiers.length === 0) continue;
    delays[name] = tiers;
    for (const tier of tiers) {
      exchanges.push({
        name: tier.name,
        type: "fanout",
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      });
      queues.push({
        name: tier.name,
        role: "delay",
        owner: name,
        type: "quorum",
        durable: true,
        arguments: {
          "x-queue-type": "quorum",
          "x-message-ttl": tier.delayMs,
          "x-dead-letter-exchange": name,
          ...AT_LEAST_ONCE,
        },
      });
      bindings.push({
        source: tier.name,
        destination: tier.name,
        destinationType: "queue",
        routingKey: "",
        arguments: {},
      });
    }
  }

  return {
    vhost: topology.vhost,
    exchanges,
    queues,
    bindings,
    retryPolicies,
    delays,
    ...(Object.keys(partitioned).length === 0 ? {} : { partitioned }),
  };
}

/**
 * The retry tier a failed attempt waits in, or `undefined` when the message
 * has used its last attempt and goes to `policy.deadLetterQueue`.
 *
 * @param attempt - the 1-based attempt that failed (`warren-attempt`).
 */
export function retryTierFor(policy: RetryPolicy, attempt: number): RetryTier | undefined {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt is 1-based, got ${attempt}`);
  }
  if (attempt >= policy.maxAttempts || policy.tiers.length === 0) return undefined;
  return policy.tiers[Math.min(attempt, policy.tiers.length) - 1];
}

const AT_LEAST_ONCE = {
  "x-dead-letter-strategy": "at-least-once",
  "x-overflow": "reject-publish",
} as const;

/**
 * `x-quorum-initial-group-size` when the topology sets it, typed or (for
 * files written before `initialGroupSize` existed) as a raw argument.
 */
function replicas(queue: QueueDefinition): BrokerArguments {
  const size = queue.initialGroupSize ?? queue.arguments["x-quorum-initial-group-size"];
  return size === undefined ? {} : { "x-quorum-initial-group-size": size };
}

function workQueueArguments(name: string, queue: QueueDefinition): BrokerArguments {
  const args: BrokerArguments = { "x-queue-type": queue.type };
  if (queue.deadLetter === undefined) {
    args["x-dead-letter-exchange"] = "";
    args["x-dead-letter-routing-key"] = deadLetterQueueName(name);
  } else {
    args["x-dead-letter-exchange"] = queue.deadLetter.exchange;
    if (queue.deadLetter.routingKey !== undefined) {
      args["x-dead-letter-routing-key"] = queue.deadLetter.routingKey;
    }
  }
  if (queue.deliveryLimit !== undefined) args["x-delivery-limit"] = queue.deliveryLimit;
  if (queue.type === "quorum") args["x-dead-letter-strategy"] = "at-least-once";
  if (queue.overflow !== undefined) args["x-overflow"] = queue.overflow;
  if (queue.maxLength !== undefined) args["x-max-length"] = queue.maxLength;
  if (queue.maxLengthBytes !== undefined) args["x-max-length-bytes"] = queue.maxLengthBytes;
  if (queue.messageTtlMs !== undefined) args["x-message-ttl"] = queue.messageTtlMs;
  if (queue.singleActiveConsumer) args["x-single-active-consumer"] = true;
  if (queue.priority !== undefined) args["x-max-priority"] = queue.priority;
  return { ...args, ...replicas(queue), ...queue.arguments };
}

function retryPolicy(name: string, queue: QueueDefinition): RetryPolicy {
  return {
    queue: name,
    maxAttempts: queue.retry.maxAttempts,
    tiers: queue.retry.delaysMs.map((delayMs) => ({
      delayMs,
      queue: retryQueueName(name, delayMs),
    })),
    deadLetterQueue: deadLetterQueueName(name),
  };
}

function bindingObject(
  binding: BindingDefinition,
  destination: string,
  destinationType: "queue" | "exchange",
): BindingObject {
  const headers = binding.headers;
  const args: BrokerArguments = {};
  if (headers !== undefined) {
    const { match, ...values } = headers;
    args["x-match"] = match;
    Object.assign(args, values);
  }
  return {
    source: binding.exchange,
    destination,
    destinationType,
    routingKey: binding.routingKey ?? "",
    arguments: args,
  };
}

/**
 * Exchanges in file order, except that an exchange comes after its alternate
 * exchange and after the sources of its exchange-to-exchange bindings
 * (depth-first; a cycle keeps file order where it closes).
 */
function exchangeOrder(topology: Topology): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string) => {
    const exchange = topology.exchanges[name];
    if (exchange === undefined || state.has(name)) return;
    state.set(name, "visiting");
    if (exchange.alternateExchange !== undefined) visit(exchange.alternateExchange);
    for (const binding of exchange.bindings) visit(binding.exchange);
    state.set(name, "done");
    order.push(name);
  };
  for (const name of Object.keys(topology.exchanges)) visit(name);
  return order;
}
