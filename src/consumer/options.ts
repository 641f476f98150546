/**
 * Options of `consume()`, their defaults, and the one place they are
 * checked. Everything downstream takes {@link ResolvedConsumeOptions} and
 * never re-checks.
 */
import type { ZodType } from "zod";
import { ConsumeError } from "../errors.ts";
import type { IdempotencyGuard } from "../idempotency/types.ts";
import type { RetryPolicy } from "../topology/model.ts";
import type { MessageContext } from "./context.ts";
import {
  type IdempotencyGuardOption,
  type IdempotencyStoreOption,
  resolveIdempotencyGuard,
} from "./idempotency.ts";

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
  /** Runs each message at most once per key (docs/architecture.md#idempotency-leases). */
  idempotency?: IdempotencyOptions<T>;
}

/** Defaults of {@link ConsumeOptions}. */
export const consumeDefaults = Object.freeze({
  concurrency: 1,
  prefetch: 1,
  timeoutMs: 30_000,
  maxBytes: 1_048_576,
  drainTimeoutMs: 30_000,
  resubscribeMaxDelayMs: 5_000,
  requeueDelayMs: 1_000,
  depthIntervalMs: 15_000,
  /** First pause before re-subscribing, doubled up to `resubscribeMaxDelayMs`. */
  resubscribeMinDelayMs: 100,
  /** How long the first subscribe waits for the connection to open. */
  connectTimeoutMs: 60_000,
});

export interface ResolvedConsumeOptions<T> {
  schema: ZodType<T> | undefined;
  concurrency: number;
  prefetch: number;
  timeoutMs: number;
  maxBytes: number;
  drainTimeoutMs: number;
  resubscribeMinDelayMs: number;
  resubscribeMaxDelayMs: number;
  requeueDelayMs: number;
  depthIntervalMs: number;
  connectTimeoutMs: number;
  idempotency: ResolvedIdempotency<T> | undefined;
}

function positiveInteger(queue: string, name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ConsumeError(
      "WARREN_CONSUME_BAD_OPTION",
      `consume("${queue}"): option ${name} must be an integer >= ${min}, got ${String(value)}`,
    );
  }
  return value;
}

/** Checks options once and fills in defaults. */
export function resolveConsumeOptions<T>(
  policy: RetryPolicy,
  options: ConsumeOptions<T> = {},
): ResolvedConsumeOptions<T> {
  const queue = policy.queue;
  const d = consumeDefaults;
  const check = (name: keyof typeof d, value: number | undefined, min: number) =>
    positiveInteger(queue, name, value ?? d[name], min);
  const maxDelay = check("resubscribeMaxDelayMs", options.resubscribeMaxDelayMs, 1);
  const timeoutMs = check("timeoutMs", options.timeoutMs, 0);
  const idempotency = options.idempotency;
  return Object.freeze({
    schema: options.schema,
    concurrency: check("concurrency", options.concurrency, 1),
    prefetch: check("prefetch", options.prefetch, 1),
    timeoutMs,
    maxBytes: check("maxBytes", options.maxBytes, 1),
    drainTimeoutMs: check("drainTimeoutMs", options.drainTimeoutMs, 0),
    resubscribeMinDelayMs: Math.min(d.resubscribeMinDelayMs, maxDelay),
    resubscribeMaxDelayMs: maxDelay,
    requeueDelayMs: check("requeueDelayMs", options.requeueDelayMs, 0),
    depthIntervalMs: check("depthIntervalMs", options.depthIntervalMs, 0),
    connectTimeoutMs: d.connectTimeoutMs,
    idempotency:
      idempotency === undefined
        ? undefined
        : {
            guard: resolveIdempotencyGuard(idempotency, { policy, timeoutMs }),
            ...(idempotency.key === undefined ? {} : { key: idempotency.key }),
          },
  });
}
