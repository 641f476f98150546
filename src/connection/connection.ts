/**
 * One AMQP connection that stays open: it connects with capped exponential
 * backoff until a deadline, reopens itself whenever the broker or the network
 * drops it, and tells its users (the publisher, each consumer) through
 * `open` events so they can rebuild their channels.
 *
 * Publisher and consumers each get their own ManagedConnection
 * (docs/architecture.md#connections): a memory alarm blocks every connection
 * that publishes, and a blocked consumer connection would stop acking too.
 * Every connection sets TCP_NODELAY and a heartbeat, and names itself
 * (`connection_name`) so an operator can tell service and role apart in the
 * management UI.
 *
 * amqplib emits `error` and `close` on connections; both are always handled
 * here, so no broker behaviour can turn into an unhandled 'error' event.
 */
import { EventEmitter } from "node:events";
import { connect as amqpConnect, type ChannelModel, type SocketOptions } from "amqplib";
import type { Logger } from "pino";
import { ConnectionError, ErrorCode } from "../errors.ts";
import { type BackoffOptions, backoffDefaults, backoffDelayMs } from "./backoff.ts";
import { coalesceSocketWrites } from "./coalesce.ts";
import { brokerUrl, maskSecrets, maskUrl } from "./url.ts";

export type ConnectionRole = "publisher" | "consumer";

/** Options of one managed connection. */
export interface ManagedConnectionOptions {
  /** Broker URLs: tried in order, then round-robin on failure. */
  urls: readonly string[];
  role: ConnectionRole;
  /** Shown in the management UI as `<serviceName> (<role>)`. */
  serviceName: string;
  /** Vhost used when a URL names none. */
  vhost?: string;
  /**
   * AMQP heartbeat, in seconds; 0 disables it.
   * @default 10
   */
  heartbeatSeconds: number;
  /**
   * How long the first connect keeps retrying before it fails, in
   * milliseconds. A service that starts before its broker waits this long.
   * @default 60000
   */
  initialConnectDeadlineMs: number;
  /**
   * Socket timeout of one connect attempt, in milliseconds.
   * @default 10000
   */
  connectTimeoutMs: number;
  backoff: BackoffOptions;
  /** TLS and other socket options passed to amqplib (amqps URLs). */
  socketOptions?: SocketOptions;
  logger: Logger;
}

export const connectionDefaults = Object.freeze({
  heartbeatSeconds: 10,
  initialConnectDeadlineMs: 60_000,
  connectTimeoutMs: 10_000,
  backoff: backoffDefaults,
});

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

interface ConnectionEvents {
  /** A (re)opened connection; `generation` counts opens from 1. */
  open: [model: ChannelModel, generation: number];
  /** The open connection was lost; a reconnect is scheduled. */
  lost: [error: Error];
  blocked: [reason: string];
  unblocked: [];
  closed: [];
}

/** A connection that reconnects by itself until closed. */
export class ManagedConnection extends EventEmitter<ConnectionEvents> {
  readonly #options: ManagedConnectionOptions;
  #model: ChannelModel | undefined;
  #state: ConnectionState = "idle";
  #generation = 0;
  #urlIndex = 0;
  #blockedReason: string | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #firstOpen: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ManagedConnectionOptions) {
    super();
    if (options.urls.length === 0) {
      throw new ConnectionError(
        ErrorCode.WARREN_CONNECTION_NO_URL,
        "connect: no broker URL was given",
      );
    }
    this.#options = options;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The open connection, or undefined while (re)connecting or closed. */
  get model(): ChannelModel | undefined {
    return this.#model;
  }

  /** True while the broker blocks this connection (resource alarm). */
  get blocked(): boolean {
    return this.#blockedReason !== undefined;
  }

  get blockedReason(): string | undefined {
    return this.#blockedReason;
  }

  /** How many times the connection has opened (1 after the first open). */
  get generation(): number {
    return this.#generation;
  }

  /** The backoff of this connection's reconnects, which its channels reopen with too. */
  get backoff(): BackoffOptions {
    return this.#options.backoff;
  }

  /** Display name of the connection (`connection_name` client property). */
  get name(): string {
    return `${this.#options.serviceName} (${this.#options.role})`;
  }

  /**
   * Opens the connection, retrying with backoff until
   * `initialConnectDeadlineMs`; resolves once it is open. Calling it again
   * returns the same promise.
   */
  open(): Promise<void> {
    this.#firstOpen ??= this.#openFirst();
    return this.#firstOpen;
  }

  async #openFirst(): Promise<void> {
    this.#state = "connecting";
    const deadline = Date.now() + this.#options.initialConnectDeadlineMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      if (this.#isClosed()) {
        throw new ConnectionError(
          ErrorCode.WARREN_CONNECTION_CLOSED,
          `${this.name}: closed while connecting`,
        );
      }
      try {
        await this.#connectOnce();
        return;
      } catch (error) {
        lastError = error;
        const delayMs = backoffDelayMs(attempt, this.#options.backoff);
        if (Date.now() + delayMs > deadline) break;
        this.#options.logger.warn(
          { err: this.#describe(error), retryInMs: delayMs },
          "broker not reachable yet, retrying",
        );
        await this.#sleep(delayMs);
      }
    }
    this.#state = "closed";
    const urls = this.#options.urls.map(maskUrl).join(", ");
    throw new ConnectionError(
      ErrorCode.WARREN_CONNECT_TIMEOUT,
      `${this.name}: could not connect to ${urls} within ${this.#options.initialConnectDeadlineMs} ms (last error: ${this.#describe(lastError)}). Check that the broker runs and the URL and credentials are right, or raise initialConnectDeadlineMs.`,
      { cause: lastError },
    );
  }

  async #connectOnce(): Promise<void> {
    const index = this.#urlIndex;
    const url = brokerUrl(this.#options.urls[index] as string, {
      heartbeatSeconds: this.#options.heartbeatSeconds,
      ...(this.#options.vhost === undefined ? {} : { vhost: this.#options.vhost }),
    });
    let model: ChannelModel;
    try {
      model = await amqpConnect(url, {
        ...this.#options.socketOptions,
        noDelay: true,
        timeout: this.#options.connectTimeoutMs,
        clientProperties: { connection_name: this.name },
      });
    } catch (error) {
      // Next attempt goes to the next node of the cluster.
      this.#urlIndex = (index + 1) % this.#options.urls.length;
      throw error;
    }
    if (this.#isClosed()) {
      await model.close().catch(() => {});
      throw new ConnectionError(
        ErrorCode.WARREN_CONNECTION_CLOSED,
        `${this.name}: closed while connecting`,
      );
    }
    this.#attach(model);
    // The writes of one tick (publishes, acks of every lane) leave as one.
    coalesceSocketWrites(model);
    this.#model = model;
    this.#state = "open";
    this.#generation += 1;
    this.#options.logger.info(
      { url: maskUrl(url), generation: this.#generation },
      "connected to broker",
    );
    this.emit("open", model, this.#generation);
  }

  // A method, not a field read, so that TypeScript does not narrow the state
  // across the awaits where close() may change it.
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #attach(model: ChannelModel): void {
    // 'error' always precedes 'close' for a connection the broker closed; the
    // reconnect is driven from 'close' alone.
    model.on("error", (error: Error) => {
      this.#options.logger.warn({ err: this.#describe(error) }, "connection error");
    });
    model.on("close", (error?: Error) => this.#onClose(model, error));
    model.on("blocked", (reason: string) => {
      this.#blockedReason = reason;
      this.#options.logger.warn({ reason }, "connection blocked by the broker");
      this.emit("blocked", reason);
    });
    model.on("unblocked", () => {
      this.#blockedReason = undefined;
      this.#options.logger.info("connection unblocked");
      this.emit("unblocked");
    });
    model.on("handler-error", (error: Error, eventName: string) => {
      this.#options.logger.error(
        { err: this.#describe(error), event: eventName },
        "listener of a connection event threw",
      );
    });
  }

  #onClose(model: ChannelModel, error: Error | undefined): void {
    if (this.#model !== model) return;
    this.#model = undefined;
    this.#blockedReason = undefined;
    if (this.#state === "closed") return;
    const lost =
      error ??
      new ConnectionError(ErrorCode.WARREN_CONNECTION_LOST, `${this.name}: connection closed`);
    this.#state = "reconnecting";
    this.#options.logger.warn({ err: this.#describe(lost) }, "connection lost, reconnecting");
    this.emit("lost", lost);
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 0; this.#state === "reconnecting"; attempt++) {
      await this.#sleep(backoffDelayMs(attempt, this.#options.backoff));
      if (this.#state !== "reconnecting") return;
      try {
        await this.#connectOnce();
        return;
      } catch (error) {
        this.#options.logger.warn(
          { err: this.#describe(error), attempt: attempt + 1 },
          "reconnect failed",
        );
      }
    }
  }

  /** A backoff wait that `close()` cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        this.#wake = undefined;
        resolve();
      };
      this.#retryTimer = setTimeout(this.#wake, ms);
    });
  }

  #describe(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return maskSecrets(text, this.#options.urls);
  }

  /**
   * Waits until the connection is open, at most `timeoutMs`. Rejects with
   * `WARREN_CONNECTION_CLOSED` once closed.
   */
  async whenOpen(timeoutMs: number): Promise<ChannelModel> {
    if (this.#model !== undefined) return this.#model;
    if (this.#state === "closed") {
      throw new ConnectionError(
        ErrorCode.WARREN_CONNECTION_CLOSED,
        `${this.name}: connection is closed`,
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<ChannelModel>();
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new ConnectionError(
          ErrorCode.WARREN_CONNECTION_UNAVAILABLE,
          `${this.name}: not connected to the broker after ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const onOpen = (model: ChannelModel) => {
      cleanup();
      resolve(model);
    };
    const onClosed = () => {
      cleanup();
      reject(
        new ConnectionError(
          ErrorCode.WARREN_CONNECTION_CLOSED,
          `${this.name}: connection is closed`,
        ),
      );
    };
    const cleanup = () => {
      clearTimeout(timer);
      this.off("open", onOpen);
      this.off("closed", onClosed);
    };
    this.on("open", onOpen);
    this.on("closed", onClosed);
    return promise;
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = "closed";
    this.#wake?.();
    const model = this.#model;
    this.#model = undefined;
    if (model !== undefined) {
      try {
        await model.close();
      } catch (error) {
        // Already closing or closed by the broker: nothing left to release.
        this.#options.logger.debug({ err: this.#describe(error) }, "close of a dead connection");
      }
    }
    this.emit("closed");
  }
}
