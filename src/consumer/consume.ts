/**
 * The consumer runtime's entry point and its channel life cycle.
 *
 * A consumer runs `concurrency` lanes; each lane is one channel with its own
 * prefetch and one handler at a time, so `concurrency` is exactly the number
 * of handlers that can run at once. A lane keeps itself subscribed on a
 * ReopeningChannel (connection/reopening-channel.ts) whose on-open hook
 * subscribes: after a channel error or a broker `basic.cancel` (the queue was
 * deleted) it opens a new channel and consumes again after the client's
 * backoff (capped at `resubscribeMaxDelayMs`), growing while the queue is
 * missing, and at once on every `open` event of the managed connection.
 *
 * Deliveries remember the channel they came on. An ack or nack is only sent
 * on that channel while it is open; once it is gone the broker has requeued
 * the delivery, and its delivery tag means nothing on any other channel.
 * The acks of one tick leave as one (delivery-channel.ts), and the writes of
 * one tick on the consumer connection as one segment (connection/coalesce.ts).
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { ManagedConnection } from "../connection/connection.ts";
import { ConsumeError, ErrorCode } from "../errors.ts";
import type { WarrenMetrics } from "../observability/metrics.ts";
import type { Tracing } from "../observability/tracing.ts";
import type { ConfirmedSender } from "../publisher/envelope.ts";
import type { CompiledTopology, RetryPolicy } from "../topology/model.ts";
import { startDepthSampler } from "./depth.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import { ConsumerIntake } from "./intake.ts";
import type { KillSwitchChange, KillSwitchState } from "./kill-switch.ts";
import { Lane, type LaneContext } from "./lane.ts";
import { bindMeters } from "./meters.ts";
import {
  type ConsumeOptions,
  type Handler,
  type ResolvedConsumeOptions,
  resolveConsumeOptions,
} from "./options.ts";
import { startPartitionBalancer } from "./partition-balance.ts";
import { checkPartitionedOptions } from "./partitioned.ts";
import { startSubscriptionWatch } from "./subscription-watch.ts";

/** What a consumer needs from the client that starts it. */
export interface ConsumerDeps {
  /** The consumer-role connection, shared by the client's consumers. */
  connection: ManagedConnection;
  /** Publishes retry and dead-letter copies (on the publisher connection). */
  publisher: ConfirmedSender;
  topology: CompiledTopology;
  logger: Logger;
  metrics: WarrenMetrics;
  /** Consumer spans, when the client has tracing on. */
  tracing?: Tracing | undefined;
}

/** Options of {@link Consumer.close}. */
export interface CloseOptions {
  /**
   * How long to wait for running handlers, in milliseconds.
   * @default the consumer's `drainTimeoutMs`
   */
  drainTimeoutMs?: number;
}

/** Events of a {@link Consumer}. */
export interface ConsumerEvents {
  /** A lane (0-based) subscribed, first or again after a loss. */
  subscribed: [lane: number];
  /**
   * The broker cancelled the subscription (the queue was deleted). The lane
   * keeps trying to subscribe again until the queue is back or `close()`.
   */
  cancelled: [lane: number];
  /** `close()` finished: channels closed, handlers drained or abandoned. */
  closed: [];
  /** The kill switch tripped: the consumer takes no messages until its probe. */
  tripped: [change: Extract<KillSwitchChange, { state: "tripped" }>];
  /** The kill switch's cool-down passed: a few messages are let through. */
  probing: [change: Extract<KillSwitchChange, { state: "probing" }>];
  /** Consuming again: the probe succeeded, or an operator called `resume()`. */
  resumed: [change: Extract<KillSwitchChange, { state: "resumed" }>];
  /** An operator called `pause()`. */
  paused: [];
}

/**
 * A running consumer of one queue. Created by `startConsumer` (through the
 * client's `consume`); stop it with {@link Consumer.close}.
 */
export class Consumer extends EventEmitter<ConsumerEvents> {
  /** The work queue consumed. */
  readonly queue: string;
  /** @internal */
  readonly options: ReturnType<typeof resolveConsumeOptions<unknown>>;
  /** @internal */
  readonly runtime: DeliveryRuntime<unknown>;
  /** @internal */
  readonly logger: Logger;
  /** @internal */
  readonly connection: ManagedConnection;
  readonly #lanes: Lane[];
  readonly #runtimes: DeliveryRuntime<unknown>[];
  /** Aborted by `close()`: ends the wait of a message held in place. */
  readonly #stopping = new AbortController();
  #closing: Promise<void> | undefined;
  #drainCompleted: boolean | undefined;
  #depth: { stop(): Promise<void> } | undefined;
  #watch: { stop(): Promise<void> } | undefined;
  #balancer: ReturnType<typeof startPartitionBalancer> | undefined;
  readonly #deps: ConsumerDeps;
  readonly #intake: ConsumerIntake;
  /** The cancels of the last {@link Consumer.#applyIntake}. */
  #cancelling: Promise<void> = Promise.resolve();

  /**
   * @internal Use `startConsumer` (or the client's `consume`). `runtimes`
   * holds one runtime per queue consumed: one for a work queue (run on
   * `concurrency` lanes), one per partition for a partitioned queue (one
   * lane each).
   */
  constructor(deps: ConsumerDeps, queue: string, runtimes: DeliveryRuntime<unknown>[]) {
    super();
    const runtime = runtimes[0]!;
    this.queue = queue;
    this.options = runtime.options;
    this.runtime = runtime;
    this.logger = deps.logger.child({ queue });
    this.connection = deps.connection;
    this.#deps = deps;
    this.#runtimes = runtimes;
    const backoff = deps.connection.backoff;
    const resubscribeBackoff = Object.freeze({
      ...backoff,
      maxDelayMs: Math.min(backoff.maxDelayMs, runtime.options.resubscribeMaxDelayMs),
    });
    this.#intake = new ConsumerIntake({
      queue,
      killSwitch: runtime.options.killSwitch,
      logger: this.logger,
      metrics: deps.metrics,
      host: {
        apply: () => this.#applyIntake(),
        emit: (change) => {
          if (change.state === "paused") this.emit("paused");
          else if (change.state === "tripped") this.emit("tripped", change);
          else if (change.state === "probing") this.emit("probing", change);
          else this.emit("resumed", change);
        },
      },
    });
    const intake = this.#intake;
    for (const rt of runtimes) {
      rt.observe = (message, observation) => intake.observe(message, observation);
      rt.stopping = this.#stopping.signal;
    }
    const consumer = this;
    const context = (rt: DeliveryRuntime<unknown>): LaneContext => ({
      queue: rt.queue,
      options: rt.options,
      runtime: rt,
      logger: rt.logger,
      connection: deps.connection,
      resubscribeBackoff,
      get closing() {
        return consumer.closing;
      },
      intake,
      emit: (event, lane) => this.emit(event, lane),
      onActive: () => this.#balancer?.onActive(),
    });
    const laneRuntimes =
      runtimes.length > 1
        ? runtimes
        : Array.from({ length: runtime.options.concurrency }, () => runtime);
    this.#lanes = laneRuntimes.map((rt, i) => new Lane(context(rt), i));
  }

  /** Lanes (channels) of this consumer: `concurrency`, or one per partition. */
  get lanes(): number {
    return this.#lanes.length;
  }

  /**
   * After `close()`: true when every running handler finished before the
   * drain deadline, false when some were still running (their messages go
   * back to the queue). Undefined until the close has drained.
   */
  get drainCompleted(): boolean | undefined {
    return this.#drainCompleted;
  }

  /** True once `close()` was called. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** True while every lane is subscribed (for readiness checks). */
  get consuming(): boolean {
    return !this.closing && this.#lanes.every((lane) => lane.subscribed);
  }

  /** Lanes subscribed now (the `warren_consumers` gauge reads it at scrape time). */
  get subscribedLanes(): number {
    let n = 0;
    for (const lane of this.#lanes) if (lane.subscribed) n++;
    return n;
  }

  /**
   * Why the consumer takes no messages on purpose (an operator's pause, a
   * tripped or probing kill switch), for `/readyz`; undefined otherwise.
   */
  get pausedReason(): string | undefined {
    return this.closing ? undefined : this.#intake.describe();
  }

  /** The kill switch's state; undefined when it is off. */
  get killSwitchState(): KillSwitchState | undefined {
    return this.#intake.killSwitchState;
  }

  /**
   * Stops taking messages until {@link Consumer.resume}: cancels the
   * subscriptions, so messages not yet started stay in the queue. Running
   * handlers finish and settle as usual. Emits `paused`. Resolves once
   * every subscription is cancelled.
   */
  pause(): Promise<void> {
    this.#intake.pause();
    return this.#cancelling;
  }

  /**
   * Takes messages again after {@link Consumer.pause}, and also ends a
   * tripped or probing kill switch at once (the operator knows the
   * dependency is back). Emits `resumed` with `by: "operator"`.
   */
  resume(): void {
    this.#intake.resume();
  }

  /** Subscribes or cancels lanes to match the intake (pause, probe, kill switch). */
  #applyIntake(): void {
    if (this.closing) return;
    this.#cancelling = Promise.all(this.#lanes.map((lane) => lane.sync())).then(() => {});
  }

  /** Handlers running now (or settling their message). */
  get inFlight(): number {
    return this.#lanes.filter((lane) => lane.busy).length;
  }

  /** @internal */
  async start(): Promise<void> {
    await this.connection.whenOpen(this.options.connectTimeoutMs);
    try {
      for (const lane of this.#lanes) await lane.subscribeOnce();
    } catch (error) {
      await this.close({ drainTimeoutMs: 0 });
      const text = error instanceof Error ? error.message : String(error);
      if (/NOT_FOUND/.test(text)) {
        throw new ConsumeError(
          ErrorCode.WARREN_CONSUME_QUEUE_MISSING,
          `consume("${this.queue}"): the queue does not exist on the broker. Declare the topology first (\`warren topology apply <file>\` or applyTopology()).`,
          { cause: error },
        );
      }
      throw new ConsumeError(
        ErrorCode.WARREN_CONSUME_SUBSCRIBE_FAILED,
        `consume("${this.queue}"): could not subscribe: ${text}`,
        { cause: error },
      );
    }
    for (const lane of this.#lanes) lane.keepSubscribed();
    const presenceQueue = this.#deps.topology.partitioned?.[this.queue]?.presenceQueue;
    if (presenceQueue !== undefined && this.#runtimes.length > 1 && this.options.prefetch === 1) {
      this.#balancer = startPartitionBalancer({
        lanes: this.#lanes,
        queues: this.#runtimes.map((rt) => rt.queue),
        presenceQueue,
        connection: this.connection,
        logger: this.logger,
      });
    }
    this.#deps.metrics.consumerSources.add(this);
    if (this.options.depthIntervalMs > 0) {
      this.#depth = startDepthSampler({
        connection: this.connection,
        policies: this.#runtimes.map((rt) => rt.policy),
        metrics: this.#deps.metrics,
        intervalMs: this.options.depthIntervalMs,
        logger: this.logger,
      });
    }
    if (this.options.subscriptionCheckMs > 0) {
      const staleSubscriptions = this.#deps.metrics.staleSubscriptions;
      this.#watch = startSubscriptionWatch({
        connection: this.connection,
        // One lane per partition, or every lane on the one queue.
        queues: (this.#runtimes.length > 1
          ? this.#runtimes.map((rt, i) => ({ queue: rt.queue, lanes: [this.#lanes[i]!] }))
          : [{ queue: this.queue, lanes: this.#lanes }]
        ).map((watched) => ({ ...watched, singleActive: this.#isSingleActive(watched.queue) })),
        intervalMs: this.options.subscriptionCheckMs,
        logger: this.logger,
        onStale: (queue, lanes) => staleSubscriptions.inc({ queue }, lanes),
      });
    }
    this.logger.info({ lanes: this.#lanes.length }, "consumer started");
  }

  /** Is `queue` declared with single active consumer (every partition is)? */
  #isSingleActive(queue: string): boolean {
    const declared = this.#deps.topology.queues.find((q) => q.name === queue);
    return declared?.arguments["x-single-active-consumer"] === true;
  }

  /**
   * Stops the consumer: cancels the subscriptions (no new deliveries), waits
   * for running handlers up to the drain deadline, then closes the channels.
   * Messages still unsettled at the deadline go back to the queue. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.drainTimeoutMs ?? this.options.drainTimeoutMs);
    return this.#closing;
  }

  async #close(drainTimeoutMs: number): Promise<void> {
    this.#intake.stop();
    this.#stopping.abort();
    this.#deps.metrics.consumerSources.delete(this);
    await this.#depth?.stop();
    await this.#watch?.stop();
    await this.#balancer?.stop();
    // Closing: every lane cancels (after any consume or cancel in progress).
    await Promise.all(this.#lanes.map((lane) => lane.sync()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), drainTimeoutMs);
    });
    const drained = Promise.all(this.#lanes.map((lane) => lane.drained()));
    const result = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    this.#drainCompleted = result !== "timeout";
    if (result === "timeout") {
      this.logger.warn(
        { inFlight: this.inFlight, drainTimeoutMs },
        "handlers still running at the drain deadline; their messages go back to the queue",
      );
    }
    await Promise.all(this.#lanes.map((lane) => lane.closeChannel()));
    this.logger.info("consumer closed");
    this.emit("closed");
  }
}

/**
 * Consumes `queue` with `handler` until `close()`. Resolves once every lane
 * is subscribed. A partitioned queue (`partitions: N`) is consumed on one
 * lane per partition `Q.p0 … Q.p<N-1>`; each partition has a single active
 * consumer, so with several processes the broker gives each partition to
 * one of them (docs/consuming.md#partitioned-queues).
 *
 * Outcomes (docs/architecture.md#handler-outcomes); a copy is always confirmed by the broker before
 * the original is acked:
 *
 * | handler / message | runtime does |
 * |---|---|
 * | resolves | ack (with a guard: mark done, then ack) |
 * | throws, attempt < maxAttempts | copy to `Q.retry.<delay>` with `warren-attempt + 1`, then ack |
 * | throws, attempt = maxAttempts | copy to `Q.dlq` (`retries-exhausted`) with failure headers, then ack |
 * | throws `NonRetryableError` | copy to `Q.dlq` (`non-retryable`), then ack |
 * | throws `RetryLaterError` (`delay`) | copy to the shortest tier at least `delay` long (else the longest), `warren-attempt + 1` (same attempt with `countsAsAttempt: false`, up to `maxUncountedRetries`), then ack |
 * | body over `maxBytes` / not JSON / fails `schema` or has a `__proto__` key | copy to `Q.dlq` (`too-large` / `undecodable` / `invalid-payload`), then ack; handler not called |
 * | runs past `timeoutMs` | signal aborted; counts as a retryable failure; a handler that ignores the signal keeps its lane until it settles (`warren_handlers_overrun_total`) |
 * | guard: already done | ack without calling the handler (`duplicate`) |
 * | guard: in progress elsewhere | copy to the first retry tier (same attempt), then ack |
 * | copy not confirmed (nack, unroutable, timeout, connection lost) | original nacked with requeue after `requeueDelayMs`; redelivered |
 * | copy cannot be encoded (headers too large) | a reduced copy (application headers dropped); if that fails too, the original is rejected without requeue and the broker dead-letters it (`rejected`) |
 * | forged or malformed `warren-attempt` | taken as attempt 1 (logged) |
 * | channel gone before settling | nothing sent; the broker redelivers |
 * | process crashes | the broker redelivers; a quorum `deliveryLimit` ends crash loops in `Q.dlq` |
 * | paused (`pause()`, kill switch tripped or probe full) | subscriptions cancelled: messages stay in `Q`; one sent ahead but not started is nacked with requeue |
 *
 * @throws ConsumeError `WARREN_CONSUME_UNKNOWN_QUEUE` when `queue` is not a
 *   work queue of the topology, `WARREN_INVALID_OPTIONS` for bad options
 *   (and for `concurrency` above 1 on a partitioned queue),
 *   `WARREN_CONSUME_QUEUE_MISSING` when the broker has no such queue.
 */
export async function startConsumer<T>(
  deps: ConsumerDeps,
  queue: string,
  handler: Handler<T>,
  options?: ConsumeOptions<T>,
): Promise<Consumer> {
  const partitioned = deps.topology.partitioned?.[queue];
  const policy = deps.topology.retryPolicies[queue];
  if (policy === undefined && partitioned === undefined) {
    const known = [
      ...Object.keys(deps.topology.partitioned ?? {}),
      ...Object.keys(deps.topology.retryPolicies),
    ];
    throw new ConsumeError(
      ErrorCode.WARREN_CONSUME_UNKNOWN_QUEUE,
      `consume("${queue}"): not a work queue of the topology (work queues: ${known.join(", ") || "none"}). Add it to the topology file, or consume one of those; retry tiers and .dlq queues are not consumed by the runtime.`,
    );
  }
  const logger = deps.logger.child({ queue });
  const runtimeFor = (target: RetryPolicy, resolved: ResolvedConsumeOptions<T>) => ({
    queue: target.queue,
    policy: target,
    options: resolved,
    handler,
    publisher: deps.publisher,
    logger: target.queue === queue ? logger : logger.child({ partition: target.queue }),
    // Series are labelled by the queue consumed (`Q` for every partition).
    meters: bindMeters(deps.metrics, queue, target),
    tracing: deps.tracing,
  });
  const policies = partitioned === undefined ? [policy!] : partitioned.partitions;
  const resolved = resolveConsumeOptions(policies[0]!, options, logger, queue);
  if (partitioned !== undefined) checkPartitionedOptions(queue, resolved, policies.length);
  const runtimes: DeliveryRuntime<T>[] = policies.map((target) => runtimeFor(target, resolved));
  const consumer = new Consumer(deps, queue, runtimes as DeliveryRuntime<unknown>[]);
  await consumer.start();
  return consumer;
}
