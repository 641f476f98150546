/**
 * Whether a message would reach a queue, judged from the compiled topology
 * alone. The publisher uses it for delayed messages: the broker confirms a
 * delayed publish as soon as the wait queue has it, so `mandatory` cannot
 * report that nothing is bound for the routing key once the wait is over;
 * this check does, before anything is sent. It follows the broker's rules
 * for direct, fanout, topic and headers exchanges, the consistent-hash
 * exchange of a partitioned queue, exchange-to-exchange
 * bindings and alternate exchanges. Objects declared outside the topology
 * (bindings made by hand) are invisible to it.
 */
import type { BindingObject, CompiledTopology } from "./model.ts";

/**
 * True when a message published to `exchange` with `routingKey` and
 * `headers` reaches at least one queue of `topology`; `undefined` when
 * `exchange` is not in the topology (nothing can be said).
 */
export function routesToQueue(
  topology: CompiledTopology,
  exchange: string,
  routingKey: string,
  headers: Record<string, unknown> = {},
): boolean | undefined {
  const queues = queuesReached(topology, exchange, routingKey, headers);
  return queues === undefined ? undefined : queues.size > 0;
}

/**
 * The queues of `topology` a message published to `exchange` with
 * `routingKey` and `headers` reaches; `undefined` when `exchange` is not in
 * the topology. For a partitioned queue every partition is listed: which one
 * the message lands in is the broker's hash.
 */
export function queuesReached(
  topology: CompiledTopology,
  exchange: string,
  routingKey: string,
  headers: Record<string, unknown> = {},
): Set<string> | undefined {
  if (!topology.exchanges.some((e) => e.name === exchange)) return undefined;
  const queues = new Set<string>();
  collect(topology, exchange, routingKey, headers, new Set(), queues);
  return queues;
}

function collect(
  topology: CompiledTopology,
  exchange: string,
  routingKey: string,
  headers: Record<string, unknown>,
  visited: Set<string>,
  queues: Set<string>,
): void {
  if (visited.has(exchange)) return;
  visited.add(exchange);
  const object = topology.exchanges.find((e) => e.name === exchange);
  if (object === undefined) return;
  const matching = topology.bindings.filter(
    (b) => b.source === exchange && matches(object.type, b, routingKey, headers),
  );
  for (const binding of matching) {
    if (binding.destinationType === "queue") queues.add(binding.destination);
    else collect(topology, binding.destination, routingKey, headers, visited, queues);
  }
  // The broker uses the alternate exchange only when no binding matched.
  const alternate = object.arguments["alternate-exchange"];
  if (matching.length === 0 && typeof alternate === "string") {
    collect(topology, alternate, routingKey, headers, visited, queues);
  }
}

function matches(
  type: string,
  binding: BindingObject,
  routingKey: string,
  headers: Record<string, unknown>,
): boolean {
  switch (type) {
    case "fanout":
      return true;
    case "x-consistent-hash":
      // The broker picks exactly one bound queue by the key's hash; for
      // "does it reach a queue" every binding counts (each partition is one).
      return true;
    case "direct":
      return binding.routingKey === routingKey;
    case "topic":
      return topicMatches(binding.routingKey.split("."), routingKey.split("."));
    default:
      return headersMatch(binding.arguments, headers);
  }
}

/** AMQP topic matching: `*` is exactly one word, `#` zero or more. */
export function topicMatches(pattern: readonly string[], words: readonly string[]): boolean {
  if (pattern.length === 0) return words.length === 0;
  const [head, ...rest] = pattern;
  if (head === "#") {
    for (let skip = 0; skip <= words.length; skip++) {
      if (topicMatches(rest, words.slice(skip))) return true;
    }
    return false;
  }
  if (words.length === 0) return false;
  return (head === "*" || head === words[0]) && topicMatches(rest, words.slice(1));
}

function headersMatch(binding: Record<string, unknown>, headers: Record<string, unknown>): boolean {
  const { "x-match": match = "all", ...wanted } = binding;
  const results = Object.entries(wanted)
    .filter(([key]) => !key.startsWith("x-"))
    .map(([key, value]) => Object.hasOwn(headers, key) && headers[key] === value);
  return match === "any" ? results.some(Boolean) : results.every(Boolean);
}
