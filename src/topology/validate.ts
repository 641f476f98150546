/**
 * Every rule of a topology file that one field's schema cannot express: names,
 * cross-references between objects, binding forms by exchange type, retry
 * loops that could never run or never return, options by queue type, and raw
 * arguments. It runs once, as the refinement of `topologySchema`, on the
 * resolved values (durations in ms, defaults applied).
 */
import { formatDelay } from "./duration.ts";
import type { ExchangeType } from "./model.ts";
import {
  deadLetterQueueName,
  delayName,
  MAX_NAME_BYTES,
  partitionExchangeName,
  partitionQueueName,
  presenceQueueName,
  retryQueueName,
} from "./names.ts";
import { queueArgumentProblem } from "./queue-arguments.ts";
import type { BindingDefinition, QueueDefinition, Topology } from "./schema.ts";

/** A rule broken at `path` (keys and indexes into the file). */
export interface TopologyProblem {
  path: (string | number)[];
  message: string;
}

/** Every problem in `topology`, in file order; empty when it is valid. */
export function findTopologyProblems(topology: Topology): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const report = (path: (string | number)[], message: string) => problems.push({ path, message });
  const exchangeTypes = new Map<string, ExchangeType>(
    Object.entries(topology.exchanges).map(([name, exchange]) => [name, exchange.type]),
  );
  const declared = [...exchangeTypes.keys()];
  const declaredList =
    declared.length === 0 ? "no exchanges are declared" : `declared: ${declared.join(", ")}`;

  const checkReference = (path: (string | number)[], what: string, name: string): boolean => {
    if (exchangeTypes.has(name)) return true;
    report(path, `${what} ${JSON.stringify(name)} is not declared (${declaredList})`);
    return false;
  };

  const checkBinding = (path: (string | number)[], binding: BindingDefinition) => {
    if (!checkReference(path, "exchange", binding.exchange)) return;
    const type = exchangeTypes.get(binding.exchange)!;
    const source = `exchange ${JSON.stringify(binding.exchange)} is a ${type} exchange`;
    if ((type === "direct" || type === "topic") && binding.routingKey === undefined) {
      const example = type === "topic" ? ' (e.g. "#" for every message)' : "";
      report(path, `${source}: add a routingKey${example}`);
    }
    if ((type === "fanout" || type === "headers") && binding.routingKey !== undefined) {
      const instead = type === "headers" ? "match with headers instead" : "remove routingKey";
      report([...path, "routingKey"], `${source} and ignores routing keys; ${instead}`);
    }
    if (type === "headers" && binding.headers === undefined) {
      report(path, `${source}: add headers: { match: all, <header>: <value> }`);
    }
    if (type !== "headers" && binding.headers !== undefined) {
      report([...path, "headers"], `${source} and ignores headers; remove headers`);
    }
    for (const key of Object.keys(binding.headers ?? {})) {
      if (key.toLowerCase().startsWith("x-")) {
        report(
          [...path, "headers", key],
          'headers starting with "x-" are not matched by RabbitMQ; rename the header',
        );
      }
    }
  };

  for (const [name, exchange] of Object.entries(topology.exchanges)) {
    const path = ["exchanges", name];
    checkName(path, name, "exchange", report);
    if (exchange.alternateExchange === name) {
      report([...path, "alternateExchange"], "an exchange cannot be its own alternate exchange");
    } else if (exchange.alternateExchange !== undefined) {
      checkReference(
        [...path, "alternateExchange"],
        "alternate exchange",
        exchange.alternateExchange,
      );
    }
    exchange.bindings.forEach((binding, index) => {
      if (binding.exchange === name) {
        report([...path, "bindings", index], "an exchange cannot be bound to itself");
      } else {
        checkBinding([...path, "bindings", index], binding);
      }
    });
  }

  const derived = derivedQueueNames(topology);
  checkDelays(topology, report);
  for (const [name, queue] of Object.entries(topology.queues)) {
    const path = ["queues", name];
    checkName(path, name, "queue", report);
    const owner = derived.get(name);
    if (owner !== undefined) {
      report(path, `${JSON.stringify(name)} is ${owner}; rename this queue`);
    }
    checkPartitions(path, name, queue, topology, report);
    for (const derivedName of [deadLetterQueueName(name), ...retryNames(name, queue)]) {
      const bytes = Buffer.byteLength(derivedName);
      if (bytes > MAX_NAME_BYTES && Buffer.byteLength(name) <= MAX_NAME_BYTES) {
        report(
          path,
          `derived queue ${JSON.stringify(derivedName)} is ${bytes} bytes; AMQP names hold at most ${MAX_NAME_BYTES}, so shorten the queue name`,
        );
        break;
      }
    }
    queue.bindings.forEach((binding, index) => {
      checkBinding([...path, "bindings", index], binding);
    });
    checkRetry(path, name, queue, report);
    checkQueueOptions(path, queue, report);
    if (queue.deadLetter !== undefined) {
      checkReference(
        [...path, "deadLetter", "exchange"],
        "dead-letter exchange",
        queue.deadLetter.exchange,
      );
    }
    for (const [key, value] of Object.entries(queue.arguments)) {
      const problem = queueArgumentProblem(queue.type, key, value);
      if (problem !== undefined) report([...path, "arguments", key], problem);
    }
  }
  return problems;
}

type Report = (path: (string | number)[], message: string) => void;

function checkName(path: (string | number)[], name: string, kind: string, report: Report): void {
  if (name === "") {
    report(path, `an ${kind} name cannot be empty`);
  } else if (name.startsWith("amq.")) {
    report(path, `names starting with "amq." are reserved by RabbitMQ; rename the ${kind}`);
  } else if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    report(
      path,
      `the name is ${Buffer.byteLength(name)} bytes; AMQP names hold at most ${MAX_NAME_BYTES}`,
    );
  }
}

/**
 * The retry rules. A retry loop must be able to run and to come back:
 * delays with `maxAttempts: 1` are never used, `maxAttempts > 1` without a
 * delay has no queue to wait in, and delays past `maxAttempts - 1` are never
 * reached. (Raw `x-dead-letter-*` arguments, which would stop dead letters
 * reaching `Q.dlq`, are refused with the other arguments.)
 */
function checkRetry(
  path: (string | number)[],
  name: string,
  queue: QueueDefinition,
  report: Report,
): void {
  const { delaysMs, maxAttempts } = queue.retry;
  const retryPath = [...path, "retry"];
  delaysMs.forEach((delayMs, index) => {
    if (delayMs === 0) {
      report(
        [...retryPath, "delays", index],
        "a retry delay must be at least 1ms; 0 would retry at once, with no back-off",
      );
    }
  });
  if (delaysMs.length > 0 && maxAttempts === 1) {
    report(
      retryPath,
      `delays are never used: maxAttempts is 1, so a failed message goes straight to ${JSON.stringify(deadLetterQueueName(name))}; raise maxAttempts to ${delaysMs.length + 1} or remove delays`,
    );
  } else if (delaysMs.length === 0 && maxAttempts > 1) {
    report(
      retryPath,
      `maxAttempts is ${maxAttempts} but no delays are given, so a failed message has no retry queue to wait in before it returns; add delays (e.g. delays: [10s]) or set maxAttempts: 1`,
    );
  } else if (delaysMs.length > maxAttempts - 1) {
    const retries = maxAttempts - 1;
    report(
      [...retryPath, "delays", retries],
      `${formatDelay(delaysMs[retries] ?? 0)} is never used: maxAttempts ${maxAttempts} allows ${retries} ${retries === 1 ? "retry" : "retries"}; remove the extra delays or raise maxAttempts to ${delaysMs.length + 1}`,
    );
  }
}

function checkQueueOptions(
  path: (string | number)[],
  queue: QueueDefinition,
  report: Report,
): void {
  if (queue.type === "classic" && queue.deliveryLimit !== undefined) {
    report(
      [...path, "deliveryLimit"],
      "deliveryLimit is for quorum queues only (RabbitMQ refuses x-delivery-limit on a classic queue); remove it or set type: quorum",
    );
  }
  if (queue.type === "classic" && queue.initialGroupSize !== undefined) {
    report(
      [...path, "initialGroupSize"],
      "initialGroupSize is for quorum queues only (a classic queue lives on one node; RabbitMQ refuses x-quorum-initial-group-size on it); remove it or set type: quorum",
    );
  }
  const rawGroupSize = queue.arguments["x-quorum-initial-group-size"];
  if (
    queue.initialGroupSize !== undefined &&
    rawGroupSize !== undefined &&
    rawGroupSize !== queue.initialGroupSize
  ) {
    report(
      [...path, "initialGroupSize"],
      `initialGroupSize ${queue.initialGroupSize} contradicts arguments."x-quorum-initial-group-size" ${JSON.stringify(rawGroupSize)}; keep only initialGroupSize`,
    );
  }
  if (queue.type === "quorum" && queue.overflow !== "reject-publish") {
    report(
      [...path, "overflow"],
      `overflow ${JSON.stringify(queue.overflow)} is not available on a quorum queue: warren dead-letters quorum queues at-least-once, which RabbitMQ honours only with reject-publish; remove overflow or set type: classic`,
    );
  }
  if (queue.type === "quorum" && queue.priority !== undefined) {
    report(
      [...path, "priority"],
      "priority is for classic queues only: quorum queues on RabbitMQ 3.10 do not support x-max-priority (the broker refuses it); set type: classic or remove priority",
    );
  }
  if (queue.priority !== undefined && Object.hasOwn(queue.arguments, "x-max-priority")) {
    report(
      [...path, "arguments", "x-max-priority"],
      "x-max-priority is set twice, by priority and by arguments; keep priority and remove the raw argument",
    );
  }
  const limited = queue.maxLength !== undefined || queue.maxLengthBytes !== undefined;
  if (queue.type === "classic" && queue.overflow !== undefined && !limited) {
    report(
      [...path, "overflow"],
      "overflow has no effect without maxLength or maxLengthBytes; add a limit or remove overflow",
    );
  }
}

/**
 * The publish delays of each exchange: at least 1ms, each once, and a wait
 * exchange/queue name `X.delay.<delay>` that no declared exchange or queue
 * already uses (the file would otherwise declare one object twice with
 * different meanings). A derived queue cannot clash: `Q.dlq` and
 * `Q.retry.<delay>` never end in `.delay.<delay>`.
 */
function checkDelays(topology: Topology, report: Report): void {
  for (const [name, exchange] of Object.entries(topology.exchanges)) {
    const seen = new Set<number>();
    exchange.delaysMs.forEach((delayMs, index) => {
      const path = ["exchanges", name, "delays", index];
      if (delayMs === 0) {
        report(path, "a publish delay must be at least 1ms; publish without delay instead of 0");
        return;
      }
      if (seen.has(delayMs)) {
        report(path, `${formatDelay(delayMs)} is declared twice; remove the duplicate`);
        return;
      }
      seen.add(delayMs);
      const waitName = delayName(name, delayMs);
      const clash = Object.hasOwn(topology.exchanges, waitName)
        ? `the declared exchange ${JSON.stringify(waitName)}`
        : Object.hasOwn(topology.queues, waitName)
          ? `the declared queue ${JSON.stringify(waitName)}`
          : undefined;
      if (clash !== undefined) {
        report(
          path,
          `the wait exchange and queue of this delay would be named ${JSON.stringify(waitName)}, which is ${clash}; rename that object or this exchange`,
        );
      } else if (Buffer.byteLength(waitName) > MAX_NAME_BYTES) {
        report(
          path,
          `the wait queue ${JSON.stringify(waitName)} is ${Buffer.byteLength(waitName)} bytes; AMQP names hold at most ${MAX_NAME_BYTES}, so shorten the exchange name`,
        );
      }
    });
  }
}

/**
 * Every retry tier name of queue `name`: `Q.retry.<delay>`, or for a
 * partitioned queue `Q.p<i>.retry.<delay>` of every partition.
 */
function retryNames(name: string, queue: QueueDefinition): string[] {
  const delays = [...new Set(queue.retry.delaysMs)];
  return partitionNames(name, queue).flatMap((owner) =>
    delays.map((delayMs) => retryQueueName(owner, delayMs)),
  );
}

/** The queues that hold a queue's messages: `[Q]`, or its partitions `Q.p0 …`. */
function partitionNames(name: string, queue: QueueDefinition): string[] {
  if (queue.partitions === undefined) return [name];
  return Array.from({ length: queue.partitions }, (_, i) => partitionQueueName(name, i));
}

/**
 * A partitioned queue's rules: `partitionBy` needs `partitions`; the hash
 * exchange `Q.partitions` must not be a declared exchange (or another
 * queue's wait exchange); and the longest derived name must fit in 255 bytes.
 */
function checkPartitions(
  path: (string | number)[],
  name: string,
  queue: QueueDefinition,
  topology: Topology,
  report: Report,
): void {
  if (queue.partitions === undefined) {
    if (queue.partitionBy !== undefined) {
      report(
        [...path, "partitionBy"],
        "partitionBy has no effect without partitions; add partitions: <N> or remove partitionBy",
      );
    }
    return;
  }
  const exchange = partitionExchangeName(name);
  if (Object.hasOwn(topology.exchanges, exchange)) {
    report(
      [...path, "partitions"],
      `the hash exchange of this partitioned queue would be named ${JSON.stringify(exchange)}, which is a declared exchange; rename that exchange or this queue`,
    );
  }
  // Tier names are checked with the other derived queue names.
  const longest = [exchange, ...partitionNames(name, queue)].sort(
    (a, b) => Buffer.byteLength(b) - Buffer.byteLength(a),
  )[0]!;
  const bytes = Buffer.byteLength(longest);
  if (bytes > MAX_NAME_BYTES && Buffer.byteLength(name) <= MAX_NAME_BYTES) {
    report(
      [...path, "partitions"],
      `derived name ${JSON.stringify(longest)} is ${bytes} bytes; AMQP names hold at most ${MAX_NAME_BYTES}, so shorten the queue name`,
    );
  }
}

/** Every derived queue name, with a phrase saying whose it is. */
function derivedQueueNames(topology: Topology): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, queue] of Object.entries(topology.queues)) {
    names.set(deadLetterQueueName(name), `the dead-letter queue of queue ${JSON.stringify(name)}`);
    if (queue.partitions !== undefined) {
      for (const partition of partitionNames(name, queue)) {
        names.set(partition, `a partition of queue ${JSON.stringify(name)}`);
      }
      names.set(presenceQueueName(name), `the presence queue of queue ${JSON.stringify(name)}`);
    }
    for (const retryName of retryNames(name, queue)) {
      names.set(retryName, `a retry queue of queue ${JSON.stringify(name)}`);
    }
  }
  return names;
}
