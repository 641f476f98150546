/**
 * One lane of a consumer: one channel, subscribed to one queue, whose
 * deliveries one handler runs one at a time, in order (see consume.ts for the
 * life cycle). A lane keeps itself subscribed on a ReopeningChannel whose
 * on-open hook subscribes.
 *
 * On a partitioned queue a lane can also step back in its partition's line of
 * single-active-consumer subscriptions (partition-balance.ts): `rejoin()`
 * cancels and subscribes again at once (for a lane that never got a
 * delivery), and `handOverAtNextAck()` does the same right before the ack of
 * the message it is handling, so that the broker has activated the next
 * consumer before this one's last message is acked but after its handler
 * finished: the next message of the partition cannot start before it ended.
 *
 * Pauses, probes and the kill switch reach a lane through `sync()`: the
 * lane's basic.consume and basic.cancel run one at a time, each deciding
 * from the intake as it is when it starts.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import type { BackoffOptions } from "../connection/backoff.ts";
import type { ManagedConnection } from "../connection/connection.ts";
import { ReopeningChannel } from "../connection/reopening-channel.ts";
import { type BatchedDeliveryChannel, batchedDeliveryChannel } from "./delivery-channel.ts";
import { type DeliveryRuntime, handleDelivery } from "./handle-delivery.ts";
import type { ConsumerIntake } from "./intake.ts";
import type { ResolvedConsumeOptions } from "./options.ts";

interface Subscription {
  channel: Channel;
  open: boolean;
  consumerTag: string | undefined;
  /**
   * Tags this lane cancelled to step back in its partition's line. A delivery
   * still arriving on one of them was sent before the broker saw the cancel,
   * possibly while it already activated the next process: it goes back to the
   * queue unhandled, so that process takes it, in order.
   */
  steppedBack: Set<string>;
  delivery: BatchedDeliveryChannel;
}

/**
 * What a lane needs from its consumer, handed over privately when the
 * consumer builds its lanes, so that a lane never reads the consumer's
 * members (which are not part of its API).
 */
export interface LaneContext {
  readonly queue: string;
  readonly options: ResolvedConsumeOptions<unknown>;
  readonly runtime: DeliveryRuntime<unknown>;
  readonly logger: Logger;
  readonly connection: ManagedConnection;
  /** The client's backoff, capped at `resubscribeMaxDelayMs`: paces re-subscribing. */
  readonly resubscribeBackoff: BackoffOptions;
  /** True once the consumer's `close()` was called. */
  readonly closing: boolean;
  /** Pause, probe, kill switch: which lanes subscribe and which deliveries start. */
  readonly intake: ConsumerIntake;
  emit(event: "subscribed" | "cancelled", lane: number): void;
  /** The lane got its first delivery since it subscribed (partition-balance.ts listens). */
  onActive?: () => void;
}

/** One channel and the handler that runs its deliveries one at a time. */
export class Lane {
  /** The consumer, as its lanes see it. */
  readonly #consumer: LaneContext;
  readonly #index: number;
  readonly #channel: ReopeningChannel<Channel>;
  #sub: Subscription | undefined;
  #subscriptions = 0;
  #buffer: { message: ConsumeMessage; sub: Subscription }[] = [];
  /** The latest {@link Lane.#run}; settled once it has emptied the buffer. */
  #pump: Promise<void> = Promise.resolve();
  /** True while {@link Lane.#run} works through the buffer. */
  #running = false;
  /** The lane's basic.consume and basic.cancel, chained one after another. */
  #ops: Promise<void> = Promise.resolve();
  /** A sync waits in {@link Lane.#ops} and has not read the intake yet. */
  #syncQueued = false;
  /** A delivery arrived since the current subscription started. */
  #delivered = false;
  /** Step back in the line at the next ack (see the module comment). */
  #handOver = false;
  /** When the current subscription started (`performance.now()`). */
  #subscribedAt = 0;
  /** When the lane last finished its buffered deliveries (`performance.now()`). */
  #settledAt = 0;

  constructor(consumer: LaneContext, index: number) {
    this.#consumer = consumer;
    this.#index = index;
    this.#channel = new ReopeningChannel({
      host: consumer.connection,
      create: (model) => model.createChannel(),
      onOpen: (channel) => this.#subscribe(channel),
      onClose: () => this.#onChannelClose(),
      backoff: consumer.resubscribeBackoff,
      logger: consumer.logger.child({ lane: index }),
      name: "consumer channel (re-subscribing)",
    });
  }

  get subscribed(): boolean {
    return this.#sub?.consumerTag !== undefined;
  }

  get busy(): boolean {
    return this.#running;
  }

  /**
   * True when the current subscription has had a delivery: on a
   * single-active-consumer queue, this lane is the active consumer.
   */
  get active(): boolean {
    return this.subscribed && this.#delivered;
  }

  /** Milliseconds subscribed without a delivery (0 when active or not subscribed). */
  get quietMs(): number {
    return this.subscribed && !this.#delivered ? performance.now() - this.#subscribedAt : 0;
  }

  /**
   * When the current subscription's basic.consume was sent
   * (`performance.now()`); undefined while not subscribed.
   */
  get subscribedSince(): number | undefined {
    return this.subscribed ? this.#subscribedAt : undefined;
  }

  /**
   * Since when the lane, subscribed, has held no delivery
   * (`performance.now()`); undefined while it runs one or is not subscribed.
   */
  get idleSince(): number | undefined {
    if (!this.subscribed || this.#running) return undefined;
    return Math.max(this.#subscribedAt, this.#settledAt);
  }

  /**
   * The broker no longer holds this lane's subscription, though no cancel
   * came (subscription-watch.ts): drops the channel and subscribes again on a
   * new one after the backoff, as after a cancel. Only an idle lane: the ack
   * of a running handler would be dropped with its channel (the watch asks
   * again at its next check).
   */
  dropStaleSubscription(): boolean {
    const sub = this.#sub;
    if (sub?.consumerTag === undefined || this.busy || this.#consumer.closing) return false;
    sub.consumerTag = undefined;
    this.#consumer.emit("cancelled", this.#index);
    this.#channel.discard(sub.channel);
    return true;
  }

  /**
   * Cancels and subscribes again at once, stepping to the back of the
   * queue's line of waiting consumers. Only for an idle lane; a delivery the
   * broker sent before it saw the cancel goes back to the queue unhandled
   * (Subscription.steppedBack).
   */
  rejoin(): void {
    const sub = this.#sub;
    if (sub?.open !== true || sub.consumerTag === undefined || this.busy) return;
    this.#resubscribe(sub);
  }

  /** Steps back in the line right before the next ack (see the module comment). */
  handOverAtNextAck(): void {
    this.#handOver = true;
  }

  /** Cancels the subscription (the frame leaves now) and consumes again once it is cancelled. */
  #resubscribe(sub: Subscription): void {
    const tag = sub.consumerTag;
    if (tag === undefined) return;
    sub.consumerTag = undefined;
    sub.steppedBack.add(tag);
    this.#delivered = false;
    // The cancel frame leaves now (before an ack of this tick); the consume
    // again waits in line with the lane's other operations (see sync()).
    const cancelled = sub.channel.cancel(tag);
    cancelled.catch(() => undefined); // awaited in line below; reported there
    void this.#enqueue(async () => {
      await cancelled;
      if (!this.#wanted || !sub.open || this.#sub !== sub || sub.consumerTag !== undefined) return;
      await this.#consume(sub, true);
    }).catch((error: unknown) => {
      this.#consumer.logger.warn({ err: error, lane: this.#index }, "could not step back");
      this.#channel.discard(sub.channel); // a new channel subscribes after the backoff
    });
  }

  /** Subscribes once; throws what went wrong (first start only). */
  async subscribeOnce(): Promise<void> {
    await this.#channel.get();
  }

  /** Keeps the lane subscribed from now on: after a lost channel, connection or queue. */
  keepSubscribed(): void {
    this.#channel.keepOpen();
  }

  /** The on-open hook of the lane's channel: prefetch, then basic.consume. */
  async #subscribe(channel: Channel): Promise<void> {
    const batched = batchedDeliveryChannel(
      channel,
      () => sub.open,
      this.#consumer.logger,
      () => this.#buffer.length > 0,
    );
    const sub: Subscription = {
      channel,
      open: true,
      consumerTag: undefined,
      steppedBack: new Set(),
      delivery: {
        ...batched,
        ack: (message) => {
          // basic.cancel is written before this ack, so it leaves first.
          if (this.#handOver) {
            this.#handOver = false;
            this.#resubscribe(sub);
          }
          batched.ack(message);
        },
      },
    };
    channel.on("close", () => {
      sub.open = false;
      sub.consumerTag = undefined;
    });
    await channel.prefetch(this.#consumer.options.prefetch);
    // Only now: a sync must not consume on a channel whose prefetch is not set.
    this.#sub = sub;
    await this.#enqueue(async () => {
      if (this.#sub !== sub || !sub.open || sub.consumerTag !== undefined) return;
      if (this.#wanted) await this.#consume(sub);
    });
  }

  /** Should the lane be subscribed now? */
  get #wanted(): boolean {
    return !this.#consumer.closing && this.#consumer.intake.wantsLane(this.#index);
  }

  /**
   * basic.consume on the lane's channel (a new one, or the same one after a
   * pause or a step back, which is `quiet`: no event, no log line).
   */
  async #consume(sub: Subscription, quiet = false): Promise<void> {
    this.#delivered = false;
    this.#subscribedAt = performance.now();
    const { consumerTag } = await sub.channel.consume(
      this.#consumer.queue,
      (message) => this.#onMessage(sub, message),
      { noAck: false },
    );
    sub.consumerTag = consumerTag;
    if (quiet) return;
    this.#subscriptions++;
    if (this.#subscriptions > 1) {
      this.#consumer.logger.info({ lane: this.#index }, "consumer subscribed again");
    }
    this.#consumer.emit("subscribed", this.#index);
  }

  #onChannelClose(): void {
    const sub = this.#sub;
    this.#sub = undefined;
    // Buffered deliveries of that channel are back in the queue already.
    this.#buffer = this.#buffer.filter((item) => item.sub !== sub);
  }

  #onMessage(sub: Subscription, message: ConsumeMessage | null): void {
    if (message === null) {
      sub.consumerTag = undefined;
      this.#consumer.logger.warn(
        { lane: this.#index },
        "broker cancelled the subscription (queue deleted?); re-subscribing when it is back",
      );
      this.#consumer.emit("cancelled", this.#index);
      // A new channel subscribes again, after the backoff, until the queue is
      // back. Named: the cancel may come while its channel is still opening.
      if (!this.#consumer.closing) this.#channel.discard(sub.channel);
      return;
    }
    if (this.#consumer.closing) return; // left unacked: requeued when the channel closes
    if (sub.steppedBack.has(message.fields.consumerTag)) {
      if (sub.open) sub.delivery.nack(message, true); // see Subscription.steppedBack
      return;
    }
    if (!this.#delivered) {
      this.#delivered = true;
      this.#consumer.onActive?.();
    }
    this.#buffer.push({ message, sub });
    if (!this.#running) this.#pump = this.#run();
  }

  /**
   * Runs the buffered deliveries one at a time until the buffer is empty.
   * `#running` is set and cleared inside, never by the caller: a run that
   * only hands deliveries back (paused) finishes before its promise is even
   * returned, and a flag cleared by the caller would then stay set, leaving
   * the lane "busy" and deaf to every later delivery.
   */
  async #run(): Promise<void> {
    this.#running = true;
    const rt = this.#consumer.runtime;
    try {
      for (let item = this.#buffer.shift(); item !== undefined; item = this.#buffer.shift()) {
        if (!this.#consumer.intake.admit(item.message)) {
          // Paused or tripped since it arrived: back to the queue, untouched.
          if (item.sub.open) item.sub.delivery.nack(item.message, true);
          continue;
        }
        await handleDelivery(rt, item.message, item.sub.delivery);
        if (this.#consumer.closing) break;
      }
    } finally {
      this.#running = false;
      this.#settledAt = performance.now();
    }
  }

  /**
   * Subscribes or cancels to match the intake (pause, probe, kill switch,
   * close). The lane's basic.consume and basic.cancel run one at a time,
   * and each sync reads the intake when it starts, not when it was asked
   * for: a trip, a probe and a trip again in quick succession end in the
   * state of the last one. (Deciding when asked left a lane cancelled while
   * wanted: a resume that found a consume in progress was dropped, and that
   * consume then cancelled itself for the trip before it.) Resolves once the
   * lane matches the intake as this sync read it.
   */
  sync(): Promise<void> {
    if (!this.#syncQueued) {
      this.#syncQueued = true;
      void this.#enqueue(() => {
        this.#syncQueued = false;
        return this.#match();
      });
    }
    return this.#ops;
  }

  /** Runs `op` after the lane's pending operations; its failure reaches the caller only. */
  #enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.#ops.then(op);
    this.#ops = run.catch(() => undefined);
    return run;
  }

  /** One step toward what the intake wants now; never throws. */
  async #match(): Promise<void> {
    const sub = this.#sub;
    if (!this.#wanted) {
      this.#channel.stopReopening();
      if (sub?.open === true && sub.consumerTag !== undefined) {
        const tag = sub.consumerTag;
        sub.consumerTag = undefined;
        await sub.channel.cancel(tag).catch((error: unknown) => {
          this.#consumer.logger.debug({ err: error, lane: this.#index }, "cancel failed");
        });
      }
      // Sent ahead before the cancel: back to the queue, untouched.
      for (const item of this.#buffer.splice(0)) {
        if (item.sub.open) item.sub.delivery.nack(item.message, true);
      }
      return;
    }
    // A lost channel is opened again; its on-open hook subscribes.
    this.#channel.keepOpen();
    if (sub?.open !== true || sub.consumerTag !== undefined) return;
    // The same channel after a pause (a handler may still be settling on it).
    await this.#consume(sub).catch((error: unknown) => {
      this.#consumer.logger.warn({ err: error, lane: this.#index }, "could not resume");
      this.#channel.discard(sub.channel); // a new channel subscribes after the backoff
    });
  }

  /** Resolves when the running handler (if any) has settled its message. */
  drained(): Promise<void> {
    return this.#pump;
  }

  async closeChannel(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    sub?.delivery.flush(); // the last acks, before the close that would drop them
    if (sub !== undefined) sub.open = false;
    await this.#channel.close();
  }
}
