/**
 * Messages written on the current channel and awaiting their confirm, by
 * delivery tag (ascending, so a `multiple` ack settles a prefix) and, for
 * mandatory ones, by `messageId`, to match a `basic.return` (which carries no
 * delivery tag) to its publish. The publisher keeps ids unique in here.
 */
import type { Message } from "amqplib";
import type { Pending } from "./backlog.ts";

/**
 * Header carrying the delivery tag of a mandatory publish that has no
 * `messageId`, to match a `basic.return` to it.
 */
export const PUBLISH_SEQ_HEADER = "warren-publish-seq";

export class InFlight {
  readonly #bySeq = new Map<number, Pending>();
  readonly #byId = new Map<string, Pending>();

  get size(): number {
    return this.#bySeq.size;
  }

  /** Tracks a written entry; `id` when returns must be matched by it. */
  add(entry: Pending, id: string | undefined): void {
    this.#bySeq.set(entry.seq, entry);
    if (id !== undefined) this.#byId.set(id, entry);
  }

  hasId(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Stops tracking an entry (settled by a timeout or a confirm). */
  delete(entry: Pending): void {
    this.#bySeq.delete(entry.seq);
    const id = entry.envelope.properties.messageId;
    if (id !== undefined && this.#byId.get(id) === entry) this.#byId.delete(id);
  }

  /** The entries an ack or nack of `tag` covers, removed from tracking. */
  confirm(tag: number, multiple: boolean): Pending[] {
    const covered: Pending[] = [];
    if (multiple) {
      for (const [seq, entry] of this.#bySeq) {
        if (seq > tag) break;
        covered.push(entry);
      }
    } else {
      const entry = this.#bySeq.get(tag);
      if (entry !== undefined) covered.push(entry);
    }
    for (const entry of covered) this.delete(entry);
    return covered;
  }

  /** The entry a returned message belongs to, if still tracked. */
  forReturn(message: Message): Pending | undefined {
    const id: unknown = message.properties.messageId;
    if (typeof id === "string" && id !== "") return this.#byId.get(id);
    const seq: unknown = message.properties.headers?.[PUBLISH_SEQ_HEADER];
    return typeof seq === "number" ? this.#bySeq.get(seq) : undefined;
  }

  /** Every tracked entry, oldest first; tracking is cleared (channel gone). */
  takeAll(): Pending[] {
    const all = [...this.#bySeq.values()];
    this.#bySeq.clear();
    this.#byId.clear();
    return all;
  }
}
