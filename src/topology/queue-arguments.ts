/**
 * The `x-` queue arguments RabbitMQ 3.10+ knows, as far as a topology's raw
 * `arguments` escape hatch is concerned. Facts checked by declaring each key
 * on quorum and classic queues of a RabbitMQ 3.10.8 broker: the broker
 * refuses (406 PRECONDITION_FAILED, "invalid arg") x-max-priority,
 * x-queue-mode, x-queue-version and x-queue-master-locator on quorum queues,
 * and x-delivery-limit, x-dead-letter-strategy, x-quorum-initial-group-size,
 * x-max-in-memory-length/-bytes and x-queue-leader-locator on classic ones.
 * x-message-ttl, x-expires, x-overflow and x-single-active-consumer are
 * accepted by both.
 *
 * Keys warren sets itself, from typed fields or for its own guarantees, are
 * refused so that a raw argument can never silently undo them.
 */
import type { QueueType } from "./model.ts";
import { didYouMean } from "./suggest.ts";

/** Keys warren sets on a work queue, and what to write instead. */
export const OWNED_QUEUE_ARGUMENTS: Readonly<Record<string, string>> = Object.freeze({
  "x-queue-type": "set it with type: quorum | classic",
  "x-dead-letter-exchange":
    "warren points it at the queue's .dlq so that no dead letter is lost; to send the broker's dead letters elsewhere use deadLetter: { exchange, routingKey }",
  "x-dead-letter-routing-key":
    "warren points it at the queue's .dlq so that no dead letter is lost; to send the broker's dead letters elsewhere use deadLetter: { exchange, routingKey }",
  "x-dead-letter-strategy":
    "warren sets at-least-once on quorum queues so that dead letters cannot be lost in transit",
  "x-delivery-limit": "use deliveryLimit instead",
  "x-max-length": "use maxLength instead",
  "x-max-length-bytes": "use maxLengthBytes instead",
  "x-overflow": "use overflow instead",
  "x-message-ttl": "use messageTtl instead",
  "x-single-active-consumer": "use singleActiveConsumer instead",
});

type Value = string | number | boolean;

interface KnownArgument {
  /** Queue types the broker accepts the key on. */
  types: readonly QueueType[];
  /** Why `value` is not acceptable, or undefined. */
  check: (value: Value) => string | undefined;
}

const BOTH: readonly QueueType[] = ["quorum", "classic"];

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: Value): string | undefined =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max
      ? undefined
      : `must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}, got ${JSON.stringify(value)}`;

const oneOf =
  (...allowed: readonly Value[]) =>
  (value: Value): string | undefined =>
    allowed.includes(value)
      ? undefined
      : `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(value)}`;

/** Raw arguments a topology may set, by key. */
export const KNOWN_QUEUE_ARGUMENTS: Readonly<Record<string, KnownArgument>> = Object.freeze({
  "x-expires": { types: BOTH, check: integer(1) },
  "x-max-priority": { types: ["classic"], check: integer(1, 255) },
  "x-queue-mode": { types: ["classic"], check: oneOf("default", "lazy") },
  "x-queue-version": { types: ["classic"], check: oneOf(1, 2) },
  "x-queue-master-locator": {
    types: ["classic"],
    check: oneOf("min-masters", "client-local", "random"),
  },
  "x-queue-leader-locator": { types: ["quorum"], check: oneOf("client-local", "balanced") },
  "x-quorum-initial-group-size": { types: ["quorum"], check: integer(1) },
  "x-max-in-memory-length": { types: ["quorum"], check: integer(0) },
  "x-max-in-memory-bytes": { types: ["quorum"], check: integer(0) },
});

/** What is wrong with raw argument `key: value` on a queue of `type`, or undefined. */
export function queueArgumentProblem(
  type: QueueType,
  key: string,
  value: Value,
): string | undefined {
  const owned = OWNED_QUEUE_ARGUMENTS[key];
  if (owned !== undefined) return `${JSON.stringify(key)} is set by warren; ${owned}`;
  const known = KNOWN_QUEUE_ARGUMENTS[key];
  if (known === undefined) {
    const names = [...Object.keys(KNOWN_QUEUE_ARGUMENTS), ...Object.keys(OWNED_QUEUE_ARGUMENTS)];
    const hint = didYouMean(key, names);
    return `${JSON.stringify(key)} is not a queue argument warren knows${
      hint === "" ? ` (known: ${Object.keys(KNOWN_QUEUE_ARGUMENTS).join(", ")})` : hint
    }`;
  }
  if (!known.types.includes(type)) {
    const other = type === "quorum" ? "classic" : "quorum";
    return `${JSON.stringify(key)} is for ${other} queues only; RabbitMQ refuses it on a ${type} queue (remove it or set type: ${other})`;
  }
  const problem = known.check(value);
  return problem === undefined ? undefined : `${JSON.stringify(key)} ${problem}`;
}
