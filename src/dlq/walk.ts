/**
 * Reading a dead-letter queue without losing or reordering it.
 *
 * Reading leaves a message unacked; what matters is where it goes when it
 * is given back. Checked on RabbitMQ 3.10.8:
 *
 * - classic queue: `basic.nack` with requeue puts a message back at its old
 *   position, so the next `basic.get` returns the same message again;
 * - quorum queue: `basic.nack` with requeue appends the message to the
 *   *tail*; closing the channel with unacked messages returns them to the
 *   head, but in no reliable order (10 messages came back as 0 9 1 2 ... 8);
 * - the management API's "get messages" with `ack_requeue_true` requeues one
 *   by one, so on a quorum queue it moves what it read to the tail.
 *
 * So a {@link QueueWalk} finds out which of the two it faces the first time
 * it gives a message back: it nacks it and reads the head again. The same
 * message back (redelivered) means requeue-in-place: messages given back are
 * then held unacked and nacked in their original order at the end, which
 * puts each back where it was. Another message means requeue-to-tail: every
 * message given back is nacked at once, and the walk goes on through the
 * whole queue as it was when the walk started (`total` messages), so that
 * after the last one the queue is in its original order again. On a quorum
 * queue even a short listing therefore reads every message once and adds one
 * to each `x-delivery-count`; warren declares `Q.dlq` without
 * `x-delivery-limit`, so that is harmless.
 *
 * A message taken for good (a replayed one) is acked with {@link QueueWalk.take}.
 * If the process or the channel dies mid-walk, the broker returns every
 * unacked message: none is lost, though their order may change.
 *
 * A walk ends only once the broker counts every message it gave back as
 * ready again. On a quorum queue the channel passes acks and nacks on to
 * the queue asynchronously, and holds some back while the queue is slow to
 * confirm earlier ones. Under load a listing then found the last message
 * of the previous walk at the head (`m-029 m-000 m-001 ...`, once in CI and
 * once in 100 back-to-back listings with a publisher loading the broker;
 * none in 200 with this wait): most likely the channel closed before the
 * queue applied its last nack, and the close returned it to the head.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import type { Channel, GetMessage } from "amqplib";

type Requeue = "unknown" | "in-place" | "to-tail";

/**
 * How long {@link QueueWalk.finish} waits for the broker to count the
 * messages given back. Past it (another consumer took some, say) the walk
 * ends anyway: nothing is lost either way, only the order is at stake.
 */
const GIVE_BACK_WAIT_MS = 5_000;

/** Two deliveries of the same message (a redelivery), ignoring the broker's delivery count. */
function sameMessage(first: GetMessage, again: GetMessage): boolean {
  const { "x-delivery-count": _a, ...firstHeaders } = first.properties.headers ?? {};
  const { "x-delivery-count": _b, ...againHeaders } = again.properties.headers ?? {};
  return (
    again.fields.redelivered &&
    first.content.equals(again.content) &&
    first.properties.messageId === again.properties.messageId &&
    first.properties.timestamp === again.properties.timestamp &&
    isDeepStrictEqual(firstHeaders, againHeaders)
  );
}

/** One pass over the messages a queue held when the walk started, head first. */
export class QueueWalk {
  readonly #channel: Channel;
  readonly #queue: string;
  readonly #total: number;
  #requeue: Requeue = "unknown";
  /** Distinct messages fetched so far. */
  #fetched = 0;
  /** Messages acked by {@link take}: the queue holds that many fewer afterwards. */
  #taken = 0;
  /** A message fetched by the probe, to be returned by the next {@link next}. */
  #pending: GetMessage | undefined;
  /** Messages given back on an in-place queue, nacked in order by {@link finish}. */
  readonly #held: GetMessage[] = [];

  /** @param total - the queue's ready count when the walk starts; the walk reads no more. */
  constructor(channel: Channel, queue: string, total: number) {
    this.#channel = channel;
    this.#queue = queue;
    this.#total = total;
  }

  /** Distinct messages read so far. */
  get fetched(): number {
    return this.#fetched;
  }

  /** The next message, or `false` when all `total` were read or the queue is empty. */
  async next(): Promise<GetMessage | false> {
    if (this.#pending !== undefined) {
      const message = this.#pending;
      this.#pending = undefined;
      return message;
    }
    if (this.#fetched >= this.#total) return false;
    const message = await this.#channel.get(this.#queue, { noAck: false });
    if (message !== false) this.#fetched++;
    return message;
  }

  /** Takes a message for good: acks it, and it does not come back. */
  take(message: GetMessage): void {
    this.#channel.ack(message);
    this.#taken++;
  }

  /** Gives a message back to the queue, to end up where it was. */
  async putBack(message: GetMessage): Promise<void> {
    if (this.#requeue === "in-place") {
      this.#held.push(message);
      return;
    }
    this.#channel.nack(message, false, true);
    if (this.#requeue === "to-tail") return;
    const probe = await this.#channel.get(this.#queue, { noAck: false });
    if (probe !== false && sameMessage(message, probe)) {
      this.#requeue = "in-place";
      this.#held.push(probe);
    } else {
      this.#requeue = "to-tail";
      if (probe !== false) {
        this.#fetched++;
        this.#pending = probe;
      }
    }
  }

  /**
   * Puts everything back in order: on an in-place queue nacks the held
   * messages in order; on a to-tail queue reads and nacks the rest of the
   * `total` messages so the queue comes round to its original order.
   */
  async finish(): Promise<void> {
    for (;;) {
      // A probe inside putBack can leave the next message pending; it must be
      // given back too, or it stays unacked until the channel closes and the
      // broker returns it to the head, out of order.
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending !== undefined) {
        await this.putBack(pending);
        continue;
      }
      if (this.#requeue === "in-place" || this.#fetched >= this.#total) break;
      const message = await this.#channel.get(this.#queue, { noAck: false });
      if (message === false) break;
      this.#fetched++;
      await this.putBack(message);
    }
    for (const message of this.#held.splice(0)) this.#channel.nack(message, false, true);
    await this.#waitGivenBack();
  }

  /** Waits until the broker counts as ready every message of the walk not taken (see the module comment). */
  async #waitGivenBack(): Promise<void> {
    const expected = this.#total - this.#taken;
    const deadline = Date.now() + GIVE_BACK_WAIT_MS;
    for (;;) {
      const { messageCount } = await this.#channel.checkQueue(this.#queue);
      if (messageCount >= expected || Date.now() >= deadline) return;
      await sleep(10);
    }
  }
}
