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
  #pump: Promise<void> | undefined;
  /** A delivery arrived since the current subscription started. */
  #delivered = false;
  /** Step back in the line at the next ack (see the module comment). */
  #handOver = false;
  /** When the current subscription started (`performance.now()`). */
  #subscribedAt = 0;

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
    return this.#pump !== undefined;
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
   * Cancels and subscribes again at once, stepping to the back of the
   * queue's line of waiting consumers. Only for an idle lane; a delivery the
   * broker sent before it saw the cancel is still handled here
   * (partition-balance.ts says when that matters).
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
    this.#delivered = false;
    sub.channel
      .cancel(tag)
      .then(async () => {
        if (this.#consumer.closing || !sub.open || !this.#consumer.intake.wantsLane(this.#index)) {
          return;
        }
        await this.#consume(sub, true);
      })
      .catch((error: unknown) => {
        this.#consumer.logger.warn({ err: error, lane: this.#index }, "could not step back");
        this.#channel.discard(); // a new channel subscribes after the backoff
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
    const batched = batchedDeliveryChannel(channel, () => sub.open, this.#consumer.logger);
    const sub: Subscription = {
      channel,
      open: true,
      consumerTag: undefined,
      delivery: {
        ...batched,
        ack: (message) => {
          // basic.cancel leaves before this ack (acks wait for the next tick).
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
    this.#sub = sub;
    await channel.prefetch(this.#consumer.options.prefetch);
    await this.#consume(sub);
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
    // Paused while subscribing: the pause's cancel found no consumer tag yet.
    if (!this.#consumer.closing && !this.#consumer.intake.wantsLane(this.#index)) {
      await this.cancel();
      return;
    }
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
      // A new channel subscribes again, after the backoff, until the queue is back.
      if (!this.#consumer.closing) this.#channel.discard();
      return;
    }
    if (this.#consumer.closing) return; // left unacked: requeued when the channel closes
    if (!this.#delivered) {
      this.#delivered = true;
      this.#consumer.onActive?.();
    }
    this.#buffer.push({ message, sub });
    this.#pump ??= this.#run();
  }

  async #run(): Promise<void> {
    const rt = this.#consumer.runtime;
    for (let item = this.#buffer.shift(); item !== undefined; item = this.#buffer.shift()) {
      if (!this.#consumer.intake.admit(item.message)) {
        // Paused or tripped since it arrived: back to the queue, untouched.
        if (item.sub.open) item.sub.delivery.nack(item.message, true);
        continue;
      }
      await handleDelivery(rt, item.message, item.sub.delivery);
      if (this.#consumer.closing) break;
    }
    this.#pump = undefined;
  }

  /** Stops taking messages: basic.cancel, and hands back buffered ones. */
  async cancel(): Promise<void> {
    this.#channel.stopReopening();
    const sub = this.#sub;
    if (sub?.open !== true) return;
    const tag = sub.consumerTag;
    sub.consumerTag = undefined;
    if (tag !== undefined) {
      await sub.channel.cancel(tag).catch((error: unknown) => {
        this.#consumer.logger.debug({ err: error, lane: this.#index }, "cancel failed");
      });
    }
    for (const item of this.#buffer.splice(0)) {
      if (item.sub.open) item.sub.delivery.nack(item.message, true);
    }
  }

  /**
   * Takes messages again after {@link Lane.cancel} (a pause): consumes on the
   * same channel when it is still open (a handler may still be settling on
   * it), or opens a new one, and keeps it open from now on.
   */
  resume(): void {
    if (this.#consumer.closing) return;
    const sub = this.#sub;
    if (sub?.open === true && sub.consumerTag === undefined && !this.#resuming) {
      this.#resuming = true;
      this.#consume(sub)
        .catch((error: unknown) => {
          this.#consumer.logger.warn({ err: error, lane: this.#index }, "could not resume");
          this.#channel.discard(); // a new channel subscribes after the backoff
        })
        .finally(() => {
          this.#resuming = false;
        });
    }
    this.#channel.keepOpen();
  }

  #resuming = false;

  /** Resolves when the running handler (if any) has settled its message. */
  drained(): Promise<void> {
    return this.#pump ?? Promise.resolve();
  }

  async closeChannel(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    sub?.delivery.flush(); // the last acks, before the close that would drop them
    if (sub !== undefined) sub.open = false;
    await this.#channel.close();
  }
}
