/**
 * The confirmed publisher (docs/architecture.md#the-publishers-promise): one
 * confirm channel on the publisher's own connection, kept open by a
 * ReopeningChannel (connection/reopening-channel.ts): reopened after the
 * broker closes it, with the client's backoff, and whenever the connection
 * reopens.
 *
 * Every publish becomes a pending entry that settles exactly once:
 *
 * - it waits in the backlog while the window of unconfirmed messages is
 *   full, the channel's write buffer is above its high-water mark (until
 *   `drain`), the connection is down, or (when allowed) the broker blocks it;
 * - once written it is keyed by its delivery tag on the channel. A
 *   `basic.return` carries no delivery tag, so returns are matched by
 *   `messageId`: a publish whose id is already in flight waits until the
 *   earlier one settles, which keeps ids unique among written messages (a
 *   message without an id carries its tag in a `warren-publish-seq` header
 *   instead). The broker sends the return before the ack of the same
 *   message, so the ack then settles it as unroutable;
 * - a confirm timeout, or the channel or connection going away after the
 *   write, settles it as failed *in doubt*: the broker may have the message.
 *   Nothing that was written is ever reported as confirmed without an ack.
 */
import type { ConfirmChannel, Message } from "amqplib";
import type { Logger } from "pino";
import type { ManagedConnection } from "../connection/connection.ts";
import { ReopeningChannel } from "../connection/reopening-channel.ts";
import { ErrorCode, type PublishError } from "../errors.ts";
import type { LocalCount } from "../observability/local-series.ts";
import type { PublishOutcome, WarrenMetrics } from "../observability/metrics.ts";
import type { Tracing } from "../observability/tracing.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { Backlog, type Pending } from "./backlog.ts";
import { Deadlines } from "./deadlines.ts";
import type { ConfirmedSender, Envelope } from "./envelope.ts";
import { InFlight, PUBLISH_SEQ_HEADER } from "./in-flight.ts";
import type { MessageRegistry } from "./messages.ts";
import { NackStreak } from "./nack-streak.ts";
import { type PublisherOptions, publisherDefaults } from "./options.ts";
import { prepareEnvelope, scheduleEnvelope } from "./prepare.ts";
import type { PublishOptions } from "./publish.ts";
import { publishErrors } from "./publish-errors.ts";
import { PublishMetrics } from "./publish-metrics.ts";

/** What the publisher needs from its client. */
export interface PublisherDeps {
  connection: ManagedConnection;
  logger: Logger;
  metrics: WarrenMetrics;
  /** Producer spans for `publish`, when the client has tracing on. */
  tracing?: Tracing | undefined;
  /** The client's topology, when it has one: it declares the publish delays. */
  topology?: CompiledTopology | undefined;
}

/** Confirmed publishing on one managed connection; see the module comment. */
export class Publisher implements ConfirmedSender {
  readonly #options: Readonly<PublisherOptions>;
  readonly #connection: ManagedConnection;
  readonly #logger: Logger;
  readonly #topology: CompiledTopology | undefined;
  readonly #backlog = new Backlog();
  readonly #inFlight = new InFlight();
  readonly #exchangeMetrics: PublishMetrics;
  readonly #deadlines: Deadlines<Pending>;
  readonly #tracing: Tracing | undefined;
  #channel: ConfirmChannel | undefined;
  #channelError: Error | undefined;
  #seq = 0;
  #writable = true;
  #outstanding = 0;
  #accepting = true;
  #idle: PromiseWithResolvers<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #reopening: ReopeningChannel<ConfirmChannel>;
  /** The in-flight gauge, counted locally (observability/local-series.ts). */
  readonly #inFlightGauge: LocalCount;
  readonly #nackStreak = new NackStreak();
  #readyWaiters: (() => void)[] = [];

  constructor(deps: PublisherDeps, options: Partial<PublisherOptions> = {}) {
    this.#options = Object.freeze({ ...publisherDefaults, ...options });
    this.#connection = deps.connection;
    this.#logger = deps.logger;
    this.#topology = deps.topology;
    this.#exchangeMetrics = new PublishMetrics(deps.metrics);
    this.#inFlightGauge = deps.metrics.local.count(deps.metrics.publishesInFlight);
    this.#deadlines = new Deadlines<Pending>(this.#options.timeoutMs, (entry) =>
      this.#onTimeout(entry, envelopeTimeout(entry, this.#options.timeoutMs)),
    );
    this.#tracing = deps.tracing;
    this.#reopening = new ReopeningChannel<ConfirmChannel>({
      host: deps.connection,
      create: (model) => model.createConfirmChannel(),
      onOpen: (channel) => this.#setUp(channel),
      onClose: (channel) => this.#onChannelClosed(channel),
      backoff: deps.connection.backoff,
      logger: deps.logger,
      name: "publish channel",
    });
    this.#connection.on("lost", this.#onLost);
    this.#connection.on("blocked", this.#onBlocked);
    this.#connection.on("unblocked", this.#onUnblocked);
    this.#reopening.keepOpen();
  }

  /** The publisher's settings, defaults applied. */
  get options(): Readonly<PublisherOptions> {
    return this.#options;
  }

  /** Publishes written and awaiting their confirm. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Publishes waiting for room, a connection or an unblock. */
  get queued(): number {
    return this.#backlog.size;
  }

  /** True once a confirm channel is open. */
  get ready(): boolean {
    return this.#channel !== undefined;
  }

  /**
   * Resolves once a confirm channel is open (at once when one is), or after
   * `timeoutMs` with false. `connect()` waits for it, so that a client is
   * ready to publish when it is handed out.
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.#channel !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((waiter) => waiter !== onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#readyWaiters.push(onReady);
    });
  }

  /**
   * Publishes `payload` as JSON to `exchange` (the publisher's by default)
   * and resolves once the broker confirms it. `messages` validates the
   * payload first. Never throws: every failure is a rejected promise.
   */
  publish(
    routingKey: string,
    payload: unknown,
    options: PublishOptions = {},
    messages?: MessageRegistry,
  ): Promise<void> {
    if (!this.#accepting) return this.#refuse(publishErrors.closed(routingKey));
    let envelope: Envelope;
    const exchange = options.exchange ?? this.#options.exchange;
    try {
      envelope = prepareEnvelope(
        messages,
        exchange,
        routingKey,
        payload,
        options,
        this.#options.maxBytes,
      );
      envelope = scheduleEnvelope(envelope, options, this.#topology);
    } catch (error) {
      const refused = error as PublishError;
      return this.#refuse(
        refused,
        refused.code === ErrorCode.WARREN_PUBLISH_TOO_LARGE ? exchange : this.#options.exchange,
      );
    }
    const tracing = this.#tracing;
    if (tracing !== undefined) return tracing.publish(envelope, () => this.#submit(envelope));
    return this.#submit(envelope);
  }

  /**
   * Sends a pre-built envelope (the consumer runtime's retry and dead-letter
   * copies) with the same confirms, window, timeouts and errors as
   * {@link publish}; `maxBytes` is not applied. The envelope is not modified.
   */
  send(envelope: Envelope): Promise<void> {
    if (!this.#accepting) return this.#refuse(publishErrors.closed(envelope.routingKey));
    const properties = { ...envelope.properties };
    if (properties.headers !== undefined) properties.headers = { ...properties.headers };
    return this.#submit({ ...envelope, properties });
  }

  #refuse(error: PublishError, exchange = this.#options.exchange): Promise<never> {
    this.#count(exchange, "rejected");
    return Promise.reject(error);
  }

  #submit(envelope: Envelope): Promise<void> {
    const blocked = this.#connection.blocked;
    if (blocked && this.#options.blockedTimeoutMs === 0) {
      return this.#refuse(
        publishErrors.blocked(envelope, this.#connection.blockedReason, 0),
        envelope.exchange,
      );
    }
    const { properties } = envelope;
    properties.mandatory = envelope.mandatory ?? true;
    const canWrite = this.#canWrite() && this.#backlog.size === 0 && !this.#idInFlight(properties);
    if (!canWrite && this.#backlog.size >= this.#options.maxQueued) {
      return this.#refuse(
        this.#channel === undefined
          ? publishErrors.notConnected(
              envelope,
              `the buffer of ${this.#options.maxQueued} waiting publishes is full`,
            )
          : publishErrors.backlogFull(envelope, this.#options.maxQueued),
        envelope.exchange,
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const startedAt = performance.now();
    const entry: Pending = {
      envelope,
      resolve,
      reject,
      state: "queued",
      seq: 0,
      startedAt,
      deadline: 0,
      timer: undefined,
      blockedTimer: undefined,
      returned: undefined,
    };
    this.#deadlines.track(entry, envelopeTimeout(entry, this.#options.timeoutMs), startedAt);
    this.#outstanding++;
    if (canWrite) {
      this.#write(this.#channel as ConfirmChannel, entry);
    } else {
      this.#backlog.push(entry);
      if (blocked) this.#startBlockedWait(entry);
    }
    return promise;
  }

  #canWrite(): boolean {
    return (
      this.#channel !== undefined &&
      this.#writable &&
      this.#inFlight.size < this.#options.maxInFlight &&
      !this.#connection.blocked
    );
  }

  /** True when a mandatory message with the same id awaits its confirm. */
  #idInFlight(properties: Envelope["properties"]): boolean {
    const id = properties.messageId;
    return properties.mandatory === true && id !== undefined && this.#inFlight.hasId(id);
  }

  #write(channel: ConfirmChannel, entry: Pending): void {
    const { envelope } = entry;
    const { properties } = envelope;
    entry.state = "writing";
    const seq = this.#seq + 1;
    const id = properties.mandatory === true ? properties.messageId : undefined;
    if (properties.mandatory === true && id === undefined) {
      properties.headers = { ...properties.headers, [PUBLISH_SEQ_HEADER]: seq };
    }
    let writable: boolean;
    try {
      writable = channel.publish(
        envelope.exchange,
        envelope.routingKey,
        envelope.content,
        properties,
      );
    } catch (error) {
      // Nothing was written: amqplib encodes the whole message before it
      // buffers any of it.
      if ((error as Error).name === "IllegalOperationError") {
        // The channel is closing: wait for the next one.
        entry.state = "queued";
        this.#backlog.unshift(entry);
        this.#writable = false;
      } else {
        // Properties amqplib cannot encode (e.g. a header of an unsupported type).
        this.#settle(entry, "rejected", publishErrors.unencodable(envelope, error));
      }
      return;
    }
    this.#seq = seq;
    entry.seq = seq;
    entry.state = "written";
    this.#inFlight.add(entry, id);
    this.#inFlightGauge.inc();
    if (!writable) this.#writable = false;
  }

  /** Writes queued entries while there is room. */
  #pump(): void {
    while (this.#backlog.size > 0 && this.#canWrite()) {
      const head = this.#backlog.peek();
      // Head-of-line wait keeps publish order and message ids unique in flight.
      if (head === undefined || this.#idInFlight(head.envelope.properties)) break;
      this.#backlog.shift();
      this.#write(this.#channel as ConfirmChannel, head);
    }
  }

  #settle(entry: Pending, outcome: PublishOutcome, error?: PublishError): void {
    if (entry.state === "done") return;
    if (entry.state === "written") {
      this.#inFlightGauge.dec();
      this.#inFlight.delete(entry);
    } else if (entry.state === "queued") this.#backlog.forget();
    entry.state = "done";
    this.#deadlines.settled(entry);
    if (entry.blockedTimer !== undefined) clearTimeout(entry.blockedTimer);
    const metrics = this.#exchangeMetrics.for(entry.envelope.exchange);
    if (error === undefined) {
      metrics.confirmed.inc();
      metrics.latency.observe((performance.now() - entry.startedAt) / 1000);
      entry.resolve();
    } else {
      metrics.outcome(outcome).inc();
      entry.reject(error);
    }
    this.#outstanding--;
    if (this.#outstanding === 0) this.#idle?.resolve();
  }

  #count(exchange: string, outcome: PublishOutcome): void {
    this.#exchangeMetrics.for(exchange).outcome(outcome).inc();
  }

  #onTimeout(entry: Pending, timeoutMs: number): void {
    if (entry.state === "written") {
      this.#settle(entry, "timeout", publishErrors.timeout(entry.envelope, timeoutMs, true));
      this.#pump();
    } else if (this.#channel === undefined) {
      this.#settle(
        entry,
        "timeout",
        publishErrors.notConnected(entry.envelope, `not connected for ${timeoutMs} ms`),
      );
    } else {
      this.#settle(entry, "timeout", publishErrors.timeout(entry.envelope, timeoutMs, false));
    }
  }

  #confirm(channel: ConfirmChannel, tag: number, multiple: boolean, nacked: boolean): void {
    if (channel !== this.#channel) return;
    for (const entry of this.#inFlight.confirm(tag, multiple)) this.#finish(entry, nacked);
    if (this.#nackStreak.record(nacked, performance.now())) {
      this.#replaceStuckChannel(channel);
      return;
    }
    this.#pump();
  }

  /**
   * Closes a channel on which the broker has nacked every publish for a
   * while (nack-streak.ts); the ReopeningChannel opens a fresh one, and
   * what was in flight settles in doubt when this one closes.
   */
  #replaceStuckChannel(channel: ConfirmChannel): void {
    this.#logger.warn(
      { inFlight: this.#inFlight.size },
      "the broker nacks every publish on this channel: opening a fresh channel",
    );
    this.#writable = false;
    channel.close().catch(() => {
      // Already closing with its connection; the reopen follows either way.
    });
  }

  #finish(entry: Pending, nacked: boolean): void {
    if (nacked) this.#settle(entry, "nacked", publishErrors.nacked(entry.envelope));
    else if (entry.returned !== undefined) {
      this.#settle(entry, "returned", publishErrors.unroutable(entry.envelope, entry.returned));
    } else this.#settle(entry, "confirmed");
  }

  #onReturn(channel: ConfirmChannel, message: Message): void {
    if (channel !== this.#channel) return;
    const entry = this.#inFlight.forReturn(message);
    if (entry === undefined) return;
    const fields = message.fields as unknown as { replyCode?: number; replyText?: string };
    entry.returned = `${fields.replyCode ?? 312} ${fields.replyText ?? "NO_ROUTE"}`;
  }

  /** Sets a new confirm channel up: its confirms, returns and drain reach this publisher. */
  #setUp(channel: ConfirmChannel): void {
    channel.on("error", (error: Error) => {
      if (channel === this.#channel) this.#channelError = error;
      this.#logger.warn({ err: error }, "publish channel error");
    });
    channel.on("handler-error", (error: Error) => {
      this.#logger.error({ err: error }, "listener of a publish channel event threw");
    });
    channel.on("ack", (f) => this.#confirm(channel, f.deliveryTag, f.multiple, false));
    channel.on("nack", (f) => this.#confirm(channel, f.deliveryTag, f.multiple, true));
    channel.on("return", (message: Message) => this.#onReturn(channel, message));
    channel.on("drain", () => {
      if (channel !== this.#channel) return;
      this.#writable = true;
      this.#pump();
    });
    this.#channel = channel;
    this.#channelError = undefined;
    this.#nackStreak.reset();
    this.#seq = 0;
    this.#writable = true;
    this.#logger.debug("publish channel open");
    for (const waiter of this.#readyWaiters.splice(0)) waiter();
    this.#pump();
  }

  #onChannelClosed(channel: ConfirmChannel): void {
    if (channel !== this.#channel) return;
    const cause = this.#channelError;
    this.#dropChannel(`the channel closed${cause === undefined ? "" : ` (${cause.message})`}`);
  }

  /** Fails every written entry in doubt; queued ones wait for the next channel. */
  #dropChannel(reason: string): void {
    this.#channel = undefined;
    this.#writable = false;
    const written = this.#inFlight.takeAll();
    for (const entry of written) {
      this.#settle(entry, "connection_lost", publishErrors.connectionLost(entry.envelope, reason));
    }
  }

  readonly #onLost = (error: Error): void => {
    if (this.#channel !== undefined)
      this.#dropChannel(`the connection was lost (${error.message})`);
  };

  readonly #onBlocked = (reason: string): void => {
    if (this.#options.blockedTimeoutMs === 0) {
      for (const entry of [...this.#backlog.entries()]) {
        this.#settle(entry, "rejected", publishErrors.blocked(entry.envelope, reason, 0));
      }
    } else {
      for (const entry of this.#backlog.entries()) this.#startBlockedWait(entry);
    }
  };

  readonly #onUnblocked = (): void => {
    for (const entry of this.#backlog.entries()) {
      if (entry.blockedTimer !== undefined) clearTimeout(entry.blockedTimer);
      entry.blockedTimer = undefined;
    }
    this.#pump();
  };

  #startBlockedWait(entry: Pending): void {
    if (entry.blockedTimer !== undefined) return;
    const waitMs = this.#options.blockedTimeoutMs;
    entry.blockedTimer = setTimeout(() => {
      if (entry.state !== "queued" || !this.#connection.blocked) return;
      this.#settle(
        entry,
        "rejected",
        publishErrors.blocked(entry.envelope, this.#connection.blockedReason, waitMs),
      );
    }, waitMs);
  }

  /**
   * Stops taking publishes (they fail with `WARREN_PUBLISH_CLOSED`), waits
   * until every accepted one has settled (each is bounded by its timeout),
   * then closes the channel. Idempotent. The connection is the caller's.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#accepting = false;
    if (this.#outstanding > 0) {
      this.#idle = Promise.withResolvers<void>();
      await this.#idle.promise;
    }
    this.#connection.off("lost", this.#onLost);
    this.#connection.off("blocked", this.#onBlocked);
    this.#connection.off("unblocked", this.#onUnblocked);
    this.#channel = undefined;
    await this.#reopening.close();
  }
}

/** The timeout of one publish: its own, else the publisher's. */
function envelopeTimeout(entry: Pending, defaultMs: number): number {
  return entry.envelope.timeoutMs ?? defaultMs;
}
