/**
 * One AMQP channel that is opened again when it goes away: the one channel
 * life cycle every part of warren uses (the publisher's confirm channel, each
 * consumer lane, the depth sampler, `topology apply` and the `dlq` commands).
 *
 * A part configures it rather than re-implementing it:
 *
 * - `create` makes the channel (`createChannel` or `createConfirmChannel`);
 * - `onOpen` sets a new channel up (listeners, prefetch, `basic.consume`).
 *   The channel counts as open only once it resolved; when it throws, the
 *   channel is closed and (when kept open) tried again after a backoff;
 * - `onClose` hears that the channel it set up is gone, whoever closed it.
 *
 * Two ways to use it. {@link ReopeningChannel.keepOpen} keeps a channel open
 * on a {@link ChannelHost} that reconnects (a `ManagedConnection`): after a
 * channel is lost while its connection lives, the next one is opened after
 * `backoffDelayMs(attempt)` (backoff.ts), the attempt growing with every
 * failure and starting over once a channel opens; when the connection itself
 * reopens, the channel is opened at once (the connection has waited already).
 * {@link ReopeningChannel.get} opens one lazily, for operations that run one
 * step after another on a plain connection and replace the channel after a
 * step the broker refused (which closes the channel).
 *
 * amqplib emits `error` before `close` on a channel the broker closed; the
 * listener installed here keeps it from being unhandled, and the operation
 * that failed rejects with the same error.
 */
import type { Channel, ChannelModel } from "amqplib";
import type { Logger } from "pino";
import { type BackoffOptions, backoffDefaults, backoffDelayMs } from "./backoff.ts";

/** Where channels come from: a connection that may reopen (`ManagedConnection`) or not. */
export interface ChannelHost {
  /** The open connection, or undefined while there is none. */
  readonly model: ChannelModel | undefined;
  on(event: "open", listener: (model: ChannelModel) => void): unknown;
  off(event: "open", listener: (model: ChannelModel) => void): unknown;
}

/** A host over one plain connection that never reopens (CLI operations). */
export function fixedHost(model: ChannelModel): ChannelHost {
  let open = true;
  model.once("close", () => {
    open = false;
  });
  return {
    get model() {
      return open ? model : undefined;
    },
    on: () => undefined,
    off: () => undefined,
  };
}

/** How one {@link ReopeningChannel} is made and set up. */
export interface ReopeningChannelOptions<C extends Channel> {
  host: ChannelHost;
  /** Opens a bare channel on the connection. */
  create: (model: ChannelModel) => Promise<C>;
  /** Sets a new channel up; a throw closes it (and retries when kept open). */
  onOpen?: (channel: C, model: ChannelModel) => Promise<void> | void;
  /** The channel set up by `onOpen` is gone (closed by the broker, the connection or us). */
  onClose?: (channel: C, error: Error | undefined) => void;
  /** Delays between reopen attempts. @default backoffDefaults */
  backoff?: BackoffOptions;
  /** Where failures are logged. */
  logger?: Logger;
  /** Names the channel in log lines, e.g. "publish channel". */
  name?: string;
}

/** A channel opened again after it is lost; see the module comment. */
export class ReopeningChannel<C extends Channel = Channel> {
  readonly #options: ReopeningChannelOptions<C>;
  #channel: C | undefined;
  #opening: Promise<C> | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #keepOpen = false;
  #stopped = false;

  constructor(options: ReopeningChannelOptions<C>) {
    this.#options = options;
  }

  /** The open, set-up channel, if there is one now. */
  get channel(): C | undefined {
    return this.#channel;
  }

  /** Failed opens since the last successful one. */
  get attempt(): number {
    return this.#attempt;
  }

  /**
   * The open channel, opening (and setting up) one when there is none.
   * Rejects with what went wrong; nothing is retried here.
   */
  get(): Promise<C> {
    if (this.#stopped) return Promise.reject(new Error(`${this.#name}: closed`));
    if (this.#channel !== undefined) return Promise.resolve(this.#channel);
    const model = this.#options.host.model;
    if (model === undefined) return Promise.reject(new Error(`${this.#name}: not connected`));
    this.#opening ??= this.#open(model).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  /**
   * Keeps a channel open until {@link close}: opens one now when connected,
   * again whenever the host's connection opens, and after every loss.
   */
  keepOpen(): void {
    if (this.#keepOpen || this.#stopped) return;
    this.#keepOpen = true;
    this.#options.host.on("open", this.#onHostOpen);
    if (this.#options.host.model !== undefined) this.#tryOpen();
  }

  /** Keeps the current channel but opens no other one (a consumer draining before close). */
  stopReopening(): void {
    this.#keepOpen = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#options.host.off("open", this.#onHostOpen);
  }

  /**
   * Closes the current channel (after an operation the broker refused, or to
   * start over); a kept-open channel is replaced after a backoff.
   *
   * `channel` names the one to close when the caller holds it: it may still
   * be in its on-open hook, not yet the current one. (A consumer's broker
   * cancel can arrive in the same socket read as its consume-ok, before the
   * hook's promise has settled.) Such a channel is closed, and its close
   * ends the open that is under way as a failure, which is retried after the
   * backoff like any other.
   */
  discard(channel: C | undefined = this.#channel): void {
    if (channel === undefined) return;
    if (channel !== this.#channel) {
      channel.close().catch(() => {
        // Already closed.
      });
      return;
    }
    // Forgotten at once, so that the next get() never hands out the closing one.
    this.#channel = undefined;
    this.#options.onClose?.(channel, undefined);
    channel.close().catch(() => {
      // Already closed by the broker.
    });
    this.#scheduleReopen(new Error(`${this.#name} discarded`));
  }

  /** Stops reopening and closes the channel. Idempotent. */
  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#options.host.off("open", this.#onHostOpen);
    await this.#opening?.catch(() => undefined);
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel !== undefined) {
      await channel.close().catch(() => {
        // Already closed with its connection.
      });
    }
  }

  get #name(): string {
    return this.#options.name ?? "channel";
  }

  readonly #onHostOpen = (): void => {
    // A new connection: open at once, the connection's backoff was the wait.
    this.#attempt = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#tryOpen();
  };

  #tryOpen(): void {
    if (this.#stopped || this.#channel !== undefined || this.#opening !== undefined) return;
    this.get().then(
      () => undefined,
      (error: unknown) => {
        this.#attempt++;
        this.#scheduleReopen(error);
      },
    );
  }

  /** Opens the next channel after the backoff, while the connection lives. */
  #scheduleReopen(error: unknown): void {
    if (!this.#keepOpen || this.#stopped || this.#options.host.model === undefined) return;
    if (this.#timer !== undefined) return;
    const delayMs = backoffDelayMs(this.#attempt, this.#options.backoff ?? backoffDefaults);
    const log = { err: error, attempt: this.#attempt, retryInMs: delayMs };
    if (this.#attempt <= 1) this.#options.logger?.warn(log, `${this.#name}: reopening`);
    else this.#options.logger?.debug(log, `${this.#name}: reopening`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tryOpen();
    }, delayMs);
  }

  async #open(model: ChannelModel): Promise<C> {
    const channel = await this.#options.create(model);
    let closed = false;
    let failure: Error | undefined;
    channel.on("error", (error: Error) => {
      failure = error;
      this.#options.logger?.debug({ err: error }, `${this.#name} error`);
    });
    channel.on("close", () => {
      closed = true;
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      this.#options.onClose?.(channel, failure);
      if (this.#stopped || !this.#keepOpen) return;
      // A lost connection is reopened by its host, whose 'open' brings us back.
      if (this.#options.host.model !== model) return;
      this.#scheduleReopen(failure ?? new Error(`${this.#name} closed`));
    });
    try {
      await this.#options.onOpen?.(channel, model);
    } catch (error) {
      if (!closed) await channel.close().catch(() => undefined);
      throw error;
    }
    if (closed || this.#stopped) {
      if (!closed) await channel.close().catch(() => undefined);
      throw failure ?? new Error(`${this.#name} closed while opening`);
    }
    this.#channel = channel;
    this.#attempt = 0;
    return channel;
  }
}
