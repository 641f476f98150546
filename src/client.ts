/**
 * `connect()` and the client it returns (docs/architecture.md#the-public-api): one publisher
 * connection, opened before `connect` resolves, and one consumer connection,
 * opened by the first `consume`. Keeping them apart means a memory alarm that
 * blocks the publisher never stops consumers from acking (docs/architecture.md#connections).
 * Both reconnect by themselves; the publisher rebuilds its channel and each
 * consumer re-subscribes on every reopen.
 */
import { EventEmitter } from "node:events";
import type { SocketOptions } from "amqplib";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  connectDefaults,
  type ResolvedConnectOptions,
  resolveConnectOptions,
} from "./connect-options.ts";
import type { BackoffOptions } from "./connection/backoff.ts";
import { type ConnectionRole, ManagedConnection } from "./connection/connection.ts";
import { type Consumer, startConsumer } from "./consumer/consume.ts";
import type { ConsumeOptions, Handler } from "./consumer/options.ts";
import { ConnectionError, ConsumeError, ErrorCode } from "./errors.ts";
import { type Readiness, type ReadinessCheck, readinessCheck } from "./observability/health.ts";
import { resolveLogger } from "./observability/logger.ts";
import { createMetrics, type WarrenMetrics } from "./observability/metrics.ts";
import { loadTracing, type Tracing, type TracingOptions } from "./observability/tracing.ts";
import type { Envelope } from "./publisher/envelope.ts";
import type {
  MessageRegistry,
  MessageSchemas,
  PayloadOf,
  RoutingKeyOf,
} from "./publisher/messages.ts";
import type { PublisherOptions } from "./publisher/options.ts";
import type { PublishOptions } from "./publisher/publish.ts";
import { Publisher } from "./publisher/publisher.ts";
import { compileTopology } from "./topology/compile.ts";
import type { CompiledTopology } from "./topology/model.ts";
import type { Topology } from "./topology/schema.ts";

/** `publish(routingKey, message, options?)`, typed by a message registry. */
export type PublishFunction<M extends MessageSchemas = MessageSchemas> = <
  K extends RoutingKeyOf<M>,
>(
  routingKey: K,
  message: PayloadOf<M, K>,
  options?: PublishOptions,
) => Promise<void>;

/** A publisher bound to an exchange and a message registry. */
export interface TypedPublisher<M extends MessageSchemas> {
  /** Validates, publishes and resolves on the broker's confirm. Bound. */
  readonly publish: PublishFunction<M>;
}

/** Options of {@link connect}. Only `url` is required. */
export interface ConnectOptions<M extends MessageSchemas = MessageSchemas> {
  /** Broker URL, or the nodes of a cluster: tried in order, then round-robin on failure. */
  url: string | readonly string[];
  /**
   * The topology (as loaded by `loadTopology`, or compiled). It gives the
   * vhost (unless a URL names one) and the retry policies `consume` needs.
   */
  topology?: Topology | CompiledTopology;
  /**
   * Exchange `publish` sends to unless a call names another.
   * @default "" (the default exchange: routing key = queue name)
   */
  publishExchange?: string;
  /** Message registry from `defineMessages`: types and validates `publish`. */
  messages?: MessageRegistry<M>;
  /**
   * Names the connections in the management UI: `<serviceName> (publisher)`
   * and `<serviceName> (consumer)`.
   * @default "warren"
   */
  serviceName?: string;
  /** pino logger; warren logs through child loggers of it. @default warn level to stderr */
  logger?: Logger;
  /** prom-client registry for warren's metrics. @default a private registry */
  registry?: Registry;
  /**
   * AMQP heartbeat, in seconds; 0 disables it.
   * @default 10
   */
  heartbeatSeconds?: number;
  /**
   * How long the first connect keeps retrying (capped exponential backoff
   * with jitter) before `connect` rejects, in milliseconds.
   * @default 60000
   */
  initialConnectDeadlineMs?: number;
  /**
   * Socket timeout of one connect attempt, in milliseconds.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /** Reconnect backoff. @default { initialDelayMs: 100, maxDelayMs: 10000, multiplier: 2 } */
  backoff?: Partial<BackoffOptions>;
  /** TLS and other socket options for amqplib (amqps URLs). */
  socketOptions?: SocketOptions;
  /** Publisher settings: timeouts, window, sizes. @default see `publisherDefaults` */
  publisher?: Partial<Omit<PublisherOptions, "exchange">>;
  /**
   * OpenTelemetry traces: a producer span per `publish` (its context goes in
   * the `traceparent`/`tracestate` headers) and a consumer span per delivery
   * (docs/operations.md#tracing). Needs the optional peer dependency
   * `@opentelemetry/api`, imported only when this is on; `connect` rejects
   * with `WARREN_DEPENDENCY_MISSING` without it. `true` uses the global
   * tracer provider.
   * @default false
   */
  tracing?: boolean | TracingOptions;
}

export { connectDefaults };

/** Events of the client. */
export interface WarrenEvents {
  /** The broker blocks the publisher connection (resource alarm). */
  blocked: [reason: string];
  unblocked: [];
}

/**
 * The client returned by {@link connect}. `publish`, `send` and `consume`
 * are bound: `const { publish, consume } = warren` works.
 */
export class Warren<M extends MessageSchemas = MessageSchemas> extends EventEmitter<WarrenEvents> {
  /** The compiled topology, when one was given. */
  readonly topology: CompiledTopology | undefined;
  readonly logger: Logger;
  readonly metrics: WarrenMetrics;
  /** @internal */
  readonly publisherConnection: ManagedConnection;
  readonly #publisher: Publisher;
  readonly #options: ResolvedConnectOptions<M>;
  readonly #consumers = new Set<Consumer>();
  #consumerConnection: ManagedConnection | undefined;
  #closing: Promise<void> | undefined;
  readonly #tracing: Tracing | undefined;

  /** @internal Use {@link connect}. */
  constructor(options: ConnectOptions<M>, tracing?: Tracing) {
    super();
    this.#options = resolveConnectOptions(options);
    this.#tracing = tracing;
    this.logger = resolveLogger(options.logger);
    this.metrics = createMetrics(options.registry);
    const topology = options.topology;
    this.topology =
      topology === undefined || "retryPolicies" in topology ? topology : compileTopology(topology);
    this.publisherConnection = this.#connection("publisher");
    this.publisherConnection.on("blocked", (reason) => {
      this.metrics.publisherBlocked.set(1);
      this.emit("blocked", reason);
    });
    this.publisherConnection.on("unblocked", () => {
      this.metrics.publisherBlocked.set(0);
      this.emit("unblocked");
    });
    this.#publisher = new Publisher(
      {
        connection: this.publisherConnection,
        logger: this.logger.child({ component: "publisher" }),
        metrics: this.metrics,
        tracing,
        topology: this.topology,
      },
      { ...this.#options.publisher, exchange: this.#options.publishExchange },
    );
  }

  #connection(role: ConnectionRole): ManagedConnection {
    const o = this.#options;
    const connection = new ManagedConnection({
      urls: o.urls,
      role,
      serviceName: o.serviceName,
      ...(this.topology === undefined ? {} : { vhost: this.topology.vhost }),
      heartbeatSeconds: o.heartbeatSeconds,
      initialConnectDeadlineMs: o.initialConnectDeadlineMs,
      connectTimeoutMs: o.connectTimeoutMs,
      backoff: o.backoff,
      ...(o.socketOptions === undefined ? {} : { socketOptions: o.socketOptions }),
      logger: this.logger.child({ component: "connection", role }),
    });
    const gauge = this.metrics.connected.labels({ role });
    connection.on("open", () => gauge.set(1));
    connection.on("lost", () => gauge.set(0));
    connection.on("closed", () => gauge.set(0));
    return connection;
  }

  /**
   * Publishes `message` as JSON to the client's `publishExchange` (or
   * `options.exchange`) and resolves once the broker confirms it. Rejects
   * with a {@link PublishError} whose `code` says why and whose `inDoubt`
   * says whether the broker may have the message anyway (see
   * docs/publishing.md). Bound to the client.
   */
  readonly publish: PublishFunction<M> = (routingKey, message, options) =>
    this.#publisher.publish(routingKey, message, options, this.#options.messages);

  /**
   * @internal Sends a pre-built envelope with confirms. It skips `maxBytes`
   * and the message registry's schemas, so it is not part of the API: the
   * consumer runtime sends its retry and dead-letter copies through the
   * publisher directly, and tests use this to reach the publisher's edge
   * cases.
   */
  readonly send = (envelope: Envelope): Promise<void> => this.#publisher.send(envelope);

  /**
   * A publisher typed and validated by `messages`, sending to `exchange`
   * (the client's `publishExchange` by default). It shares the client's
   * connection, window and metrics.
   */
  publisher<N extends MessageSchemas>(
    messages: MessageRegistry<N>,
    options: { exchange?: string } = {},
  ): TypedPublisher<N> {
    const exchange = options.exchange;
    return {
      publish: (routingKey, message, callOptions) =>
        this.#publisher.publish(
          routingKey,
          message,
          exchange === undefined || callOptions?.exchange !== undefined
            ? (callOptions ?? {})
            : { ...callOptions, exchange },
          messages,
        ),
    };
  }

  /**
   * Consumes a work queue of the topology with `handler` (see
   * `startConsumer` for the outcome table). Opens the consumer connection on
   * first use. Bound.
   */
  readonly consume = async <T = unknown>(
    queue: string,
    handler: Handler<T>,
    options?: ConsumeOptions<T>,
  ): Promise<Consumer> => {
    if (this.#closing !== undefined) {
      throw new ConsumeError(
        ErrorCode.WARREN_CONSUME_CLIENT_CLOSED,
        `consume("${queue}"): the client is closed`,
      );
    }
    if (this.topology === undefined) {
      throw new ConsumeError(
        ErrorCode.WARREN_CONSUME_NO_TOPOLOGY,
        `consume("${queue}"): the client has no topology. Pass connect({ topology: await loadTopology(file) }) so the runtime knows the queue's retry tiers and dead-letter queue.`,
      );
    }
    this.#consumerConnection ??= this.#connection("consumer");
    await this.#consumerConnection.open();
    const consumer = await startConsumer(
      {
        connection: this.#consumerConnection,
        publisher: this.#publisher,
        topology: this.topology,
        logger: this.logger,
        metrics: this.metrics,
        tracing: this.#tracing,
      },
      queue,
      handler,
      options,
    );
    this.#consumers.add(consumer);
    // A closed consumer is done with the client: keep no reference to it.
    consumer.once("closed", () => this.#consumers.delete(consumer));
    return consumer;
  };

  /** True while the broker blocks the publisher connection (resource alarm). */
  get blocked(): boolean {
    return this.publisherConnection.blocked;
  }

  /** The broker's reason for blocking, e.g. `low on memory`. */
  get blockedReason(): string | undefined {
    return this.publisherConnection.blockedReason;
  }

  /** True while the publisher can write to the broker. */
  get connected(): boolean {
    return this.#publisher.ready;
  }

  /** Publishes written and awaiting their confirm, and publishes waiting for room. */
  get pending(): { inFlight: number; queued: number } {
    return { inFlight: this.#publisher.inFlight, queued: this.#publisher.queued };
  }

  /**
   * Ready when the publisher is connected and every open consumer consumes;
   * for `/readyz`. `checks` names each part: `publisher`, then
   * `consumer:<queue>` for each consumer. A consumer paused on purpose (a
   * tripped or probing kill switch, an operator's `pause()`) is listed in
   * `degraded` (and its check carries the reason) and leaves the process
   * ready.
   */
  readiness(): Readiness {
    const reasons: string[] = [];
    const checks: ReadinessCheck[] = [];
    if (this.#closing !== undefined) reasons.push("client is closing");
    let publisherProblem: string | undefined;
    if (!this.#publisher.ready) publisherProblem = "publisher not connected";
    else if (this.blocked) {
      publisherProblem = `publisher blocked by the broker (${this.blockedReason})`;
    }
    if (publisherProblem !== undefined) reasons.push(publisherProblem);
    checks.push(readinessCheck("publisher", publisherProblem));
    const degraded: string[] = [];
    for (const consumer of this.#consumers) {
      if (consumer.closing) continue;
      // Paused on purpose (kill switch, operator): restarting would not help.
      const held = consumer.pausedReason;
      if (held !== undefined) {
        degraded.push(held);
        checks.push(readinessCheck(`consumer:${consumer.queue}`, undefined, held));
        continue;
      }
      const problem = consumer.consuming
        ? undefined
        : `not consuming ${consumer.queue} (${consumer.subscribedLanes}/${consumer.lanes} lanes subscribed)`;
      if (problem !== undefined) reasons.push(problem);
      checks.push(readinessCheck(`consumer:${consumer.queue}`, problem));
    }
    return {
      ready: reasons.length === 0,
      reasons,
      checks,
      ...(degraded.length === 0 ? {} : { degraded }),
    };
  }

  /**
   * Closes consumers first (they drain their handlers, whose retry copies
   * still need the publisher), then waits for in-flight publishes to settle,
   * then closes both connections. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    await this.#publisher.close();
    await Promise.all([this.publisherConnection.close(), this.#consumerConnection?.close()]);
  }

  /**
   * @internal Opens the publisher connection and waits for its confirm
   * channel, so that `publish` and `readiness()` work at once; used by
   * {@link connect}.
   */
  async open(): Promise<void> {
    try {
      await this.publisherConnection.open();
      const timeoutMs = this.#options.connectTimeoutMs;
      if (!(await this.#publisher.whenReady(timeoutMs))) {
        throw new ConnectionError(
          ErrorCode.WARREN_CONNECT_TIMEOUT,
          `${this.publisherConnection.name}: connected, but the publish channel did not open within ${timeoutMs} ms. Check the broker's logs (channel limits, permissions on the vhost), or raise connectTimeoutMs.`,
        );
      }
    } catch (error) {
      await this.close();
      throw error;
    }
  }
}

/**
 * Connects to the broker and returns the client, once the publisher's
 * confirm channel is open: `readiness()` reports ready and `publish` writes
 * at once when it resolves. The first connect retries
 * with capped exponential backoff and jitter until `initialConnectDeadlineMs`,
 * so a service may start before its broker; it rejects with a
 * `ConnectionError` (`WARREN_CONNECT_TIMEOUT`) after that.
 */
export async function connect<const M extends MessageSchemas = MessageSchemas>(
  options: ConnectOptions<M>,
): Promise<Warren<M>> {
  const tracing =
    options.tracing === undefined || options.tracing === false
      ? undefined
      : await loadTracing(options.tracing === true ? {} : options.tracing);
  const warren = new Warren<M>(options, tracing);
  await warren.open();
  return warren;
}
