/**
 * Options of `consume()`, their defaults, and the one place they are
 * checked. Everything downstream takes {@link ResolvedConsumeOptions} and
 * never re-checks.
 */
import type { Logger } from "pino";
import { type ZodType, z } from "zod";
import { ConsumeError } from "../errors.ts";
import type { IdempotencyGuard } from "../idempotency/types.ts";
import { integer, opaque, resolveOptions } from "../options.ts";
import type { RetryPolicy } from "../topology/model.ts";
import type { MessageContext } from "./context.ts";
import {
  type IdempotencyGuardOption,
  type IdempotencyStoreOption,
  resolveIdempotencyGuard,
} from "./idempotency.ts";
import {
  type KillSwitchOptions,
  killSwitchSchema,
  type ResolvedKillSwitch,
} from "./kill-switch.ts";

/**
 * Handles one message. Resolve to ack it; throw to retry it (or
 * `NonRetryableError` to dead-letter it at once). See `startConsumer` for the
 * full outcome table.
 */
export type Handler<T> = (message: T, context: MessageContext) => Promise<void> | void;

/** Picks a message's idempotency key. */
export interface IdempotencyKeyOption<T> {
  /**
   * The message's idempotency key.
   * @default the message's `messageId` property
   */
  key?: (message: T, context: MessageContext) => string;
}

/**
 * Makes a handler idempotent (docs/architecture.md#idempotency-leases): either a `store` (the guard is
 * built with its `leaseMs` and `retentionMs`) or a ready `guard`, plus an
 * optional `key` function.
 */
export type IdempotencyOptions<T> = (IdempotencyStoreOption | IdempotencyGuardOption) &
  IdempotencyKeyOption<T>;

/** The idempotency option once its guard is built and checked. */
export interface ResolvedIdempotency<T> extends IdempotencyKeyOption<T> {
  guard: IdempotencyGuard<unknown>;
}

/** Options of one consumer. */
export interface ConsumeOptions<T> {
  /**
   * zod schema the decoded JSON body must satisfy; the handler receives the
   * parsed value. A message that fails it is dead-lettered at once with
   * `warren-reason: invalid-payload` and the handler is not called.
   * @default no validation (the handler receives the JSON value)
   */
  schema?: ZodType<T>;
  /**
   * Handlers running at once. Each one has its own channel, so a slow
   * handler never holds back the others.
   * @default 1
   */
  concurrency?: number;
  /**
   * Unacknowledged deliveries the broker may send ahead, per channel. Raising
   * it buffers messages on the client (handlers of one channel still run one
   * at a time); it helps throughput when handlers are very fast.
   * @default 1
   */
  prefetch?: number;
  /**
   * Handler deadline in milliseconds; 0 disables it. When it passes, the
   * context's `signal` is aborted and the attempt counts as a (retryable)
   * failure.
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * Largest body accepted, in bytes. A bigger one is dead-lettered with
   * `warren-reason: too-large` without calling the handler.
   * @default 1048576 (1 MiB)
   */
  maxBytes?: number;
  /**
   * How long `close()` waits for running handlers, in milliseconds, before it
   * closes the channels anyway (unfinished messages go back to the queue).
   * @default 30000
   */
  drainTimeoutMs?: number;
  /**
   * Longest pause between two attempts to re-subscribe after the queue went
   * away or the channel failed, in milliseconds.
   * @default 5000
   */
  resubscribeMaxDelayMs?: number;
  /**
   * Pause before a message whose retry or dead-letter copy could not be
   * published is handed back to the broker, in milliseconds. It keeps a
   * blocked or broken publisher from turning into a hot redelivery loop.
   * @default 1000
   */
  requeueDelayMs?: number;
  /**
   * How often the depth of the queue, its retry tiers and its dead-letter
   * queue is read into the `warren_queue_depth` gauge, in milliseconds; 0
   * turns it off.
   * @default 15000
   */
  depthIntervalMs?: number;
  /**
   * How often the consumer checks that the broker still holds its
   * subscriptions (queue.declare passive of the queue it consumes), in
   * milliseconds; 0 turns it off. It catches a queue deleted without the
   * cancel notification that normally tells the consumer (seen on a
   * RabbitMQ 3.10 cluster): see docs/consuming.md.
   * @default 2000
   */
  subscriptionCheckMs?: number;
  /** Runs each message at most once per key (docs/architecture.md#idempotency-leases). */
  idempotency?: IdempotencyOptions<T>;
  /**
   * Stops taking messages while most of them fail (a dependency is down),
   * then probes and resumes; see docs/consuming.md. Off unless given; `{}`
   * turns it on with the defaults of `killSwitchDefaults`.
   * @default off
   */
  killSwitch?: KillSwitchOptions;
  /**
   * How many times a message may be retried by a `RetryLaterError` with
   * `countsAsAttempt: false` without using up an attempt. Past it such
   * retries count again, so a message still reaches the dead-letter queue
   * after `maxAttempts`. Counted in the `warren-uncounted-retries` header.
   * @default 10
   */
  maxUncountedRetries?: number;
  /**
   * What a failed message does to the messages behind it
   * (docs/consuming.md#ordering-under-failure):
   *
   * - `"overtake"`: the failed message waits in its retry tier, and the
   *   messages behind it (of the same key, on a partitioned queue) are
   *   handled meanwhile: they overtake it.
   * - `"hold"`: the message stays unacked and is retried in place, after the
   *   same tier delays, until it succeeds or is dead-lettered; its lane (its
   *   partition, with a single active consumer) takes nothing else
   *   meanwhile, so nothing overtakes it. A `RetryLaterError` waits for its
   *   delay's tier as usual.
   * @default "overtake"
   */
  ordering?: ConsumeOrdering;
}

/** See {@link ConsumeOptions.ordering}. */
export type ConsumeOrdering = "overtake" | "hold";

/** Defaults of {@link ConsumeOptions}. */
export const consumeDefaults = Object.freeze({
  /** Handlers running at once (channels). @default 1 */
  concurrency: 1,
  /** Unacknowledged deliveries per channel. @default 1 */
  prefetch: 1,
  /** Handler deadline, in milliseconds; 0 disables it. @default 30000 */
  timeoutMs: 30_000,
  /** Largest body accepted, in bytes. @default 1048576 (1 MiB) */
  maxBytes: 1_048_576,
  /** How long `close()` waits for running handlers, in milliseconds. @default 30000 */
  drainTimeoutMs: 30_000,
  /** Longest pause between re-subscribe attempts, in milliseconds. @default 5000 */
  resubscribeMaxDelayMs: 5_000,
  /** Pause before handing back a message whose copy failed, in milliseconds. @default 1000 */
  requeueDelayMs: 1_000,
  /** Queue depth sampling period, in milliseconds; 0 turns it off. @default 15000 */
  depthIntervalMs: 15_000,
  /** Subscription check period, in milliseconds; 0 turns it off. @default 2000 */
  subscriptionCheckMs: 2_000,
  /** Retries by `RetryLaterError` that may skip counting an attempt. @default 10 */
  maxUncountedRetries: 10,
  /** How long the first subscribe waits for the connection to open, in milliseconds. @default 60000 */
  connectTimeoutMs: 60_000,
  /** What a failed message does to those behind it. @default "overtake" */
  ordering: "overtake" as ConsumeOrdering,
});

export interface ResolvedConsumeOptions<T> {
  schema: ZodType<T> | undefined;
  concurrency: number;
  prefetch: number;
  timeoutMs: number;
  maxBytes: number;
  drainTimeoutMs: number;
  resubscribeMaxDelayMs: number;
  requeueDelayMs: number;
  depthIntervalMs: number;
  subscriptionCheckMs: number;
  connectTimeoutMs: number;
  idempotency: ResolvedIdempotency<T> | undefined;
  /** Undefined when the kill switch is off. */
  killSwitch: ResolvedKillSwitch | undefined;
  maxUncountedRetries: number;
  ordering: ConsumeOrdering;
}

/** The checks of {@link ConsumeOptions}; defaults from {@link consumeDefaults}. */
const consumeSchema = z.object({
  schema: z
    .custom<ZodType>((value) => typeof (value as ZodType | undefined)?.safeParse === "function", {
      error: "a zod schema",
    })
    .optional(),
  concurrency: integer(1).default(consumeDefaults.concurrency),
  prefetch: integer(1).default(consumeDefaults.prefetch),
  timeoutMs: integer(0).default(consumeDefaults.timeoutMs),
  maxBytes: integer(1).default(consumeDefaults.maxBytes),
  drainTimeoutMs: integer(0).default(consumeDefaults.drainTimeoutMs),
  resubscribeMaxDelayMs: integer(1).default(consumeDefaults.resubscribeMaxDelayMs),
  requeueDelayMs: integer(0).default(consumeDefaults.requeueDelayMs),
  depthIntervalMs: integer(0).default(consumeDefaults.depthIntervalMs),
  subscriptionCheckMs: integer(0).default(consumeDefaults.subscriptionCheckMs),
  idempotency: opaque<IdempotencyOptions<unknown>>()
    .refine((value) => value === undefined || (typeof value === "object" && value !== null), {
      error: "an object with a store or a guard",
    })
    .optional(),
  killSwitch: killSwitchSchema.optional(),
  maxUncountedRetries: integer(0).default(consumeDefaults.maxUncountedRetries),
  ordering: z
    .enum(["overtake", "hold"], { error: '"overtake" or "hold"' })
    .default(consumeDefaults.ordering),
});

/** Checks options once and fills in defaults. */
export function resolveConsumeOptions<T>(
  policy: RetryPolicy,
  options: ConsumeOptions<T> = {},
  logger?: Logger,
  queue: string = policy.queue,
): ResolvedConsumeOptions<T> {
  const d = consumeDefaults;
  const o = resolveOptions(consumeSchema, options, {
    context: `consume("${queue}")`,
    errorClass: ConsumeError,
  });
  const idempotency = options.idempotency;
  const timeoutMs = o.timeoutMs;
  return Object.freeze({
    schema: options.schema,
    concurrency: o.concurrency,
    prefetch: o.prefetch,
    timeoutMs,
    maxBytes: o.maxBytes,
    drainTimeoutMs: o.drainTimeoutMs,
    resubscribeMaxDelayMs: o.resubscribeMaxDelayMs,
    requeueDelayMs: o.requeueDelayMs,
    depthIntervalMs: o.depthIntervalMs,
    subscriptionCheckMs: o.subscriptionCheckMs,
    connectTimeoutMs: d.connectTimeoutMs,
    idempotency:
      idempotency === undefined
        ? undefined
        : {
            guard: resolveIdempotencyGuard(idempotency, { policy, timeoutMs, logger }),
            ...(idempotency.key === undefined ? {} : { key: idempotency.key }),
          },
    killSwitch: o.killSwitch,
    maxUncountedRetries: o.maxUncountedRetries,
    ordering: o.ordering,
  });
}
