/**
 * `inspectDeadLetters`: read the messages in `Q.dlq` without taking them.
 * It acks nothing, so nothing can be lost; {@link QueueWalk} puts every
 * message back where it was (the module comment of walk.ts says how, and
 * what that costs on a quorum queue).
 */
import { integer, resolveOptions } from "../options.ts";
import { type DeadLetter, toDeadLetter } from "./dead-letter.ts";
import { DeadLetterError } from "./errors.ts";
import {
  type DeadLetterTargetOptions,
  deadLetterCount,
  dlqTargetSchema,
  type QueuePair,
  sessionChannel,
  withSession,
} from "./target.ts";
import { QueueWalk } from "./walk.ts";

/** Defaults of the dead-letter functions. */
export const dlqDefaults = Object.freeze({
  /**
   * Most messages `inspectDeadLetters` returns.
   * @default 100
   */
  limit: 100,
  /**
   * Longest body preview, in bytes.
   * @default 256
   */
  previewBytes: 256,
  /**
   * How long a replay waits for the broker to confirm one copy, in milliseconds.
   * @default 30000
   */
  confirmTimeoutMs: 30_000,
});

/** Options of {@link inspectDeadLetters}. */
export interface InspectDeadLettersOptions extends DeadLetterTargetOptions {
  /**
   * Most messages to return, from the head of `Q.dlq`.
   * @default 100
   */
  limit?: number;
  /**
   * Longest body preview, in bytes.
   * @default 256
   */
  previewBytes?: number;
}

/** What {@link inspectDeadLetters} found. */
export interface DeadLetterListing extends QueuePair {
  /** Messages ready in `Q.dlq` when the listing started. */
  total: number;
  /** The first `limit` of them, head first. */
  messages: DeadLetter[];
}

const inspectSchema = dlqTargetSchema.extend({
  limit: integer(1).default(dlqDefaults.limit),
  previewBytes: integer(1).default(dlqDefaults.previewBytes),
});

/**
 * Lists the messages in `Q.dlq` with the headers that say why each is there,
 * leaving all of them in place, in the same order.
 *
 * Throws `DeadLetterError` `WARREN_DLQ_NOT_FOUND` when `Q.dlq` does not
 * exist, `WARREN_INVALID_OPTIONS` for a bad `limit` or `previewBytes`, and
 * `ConnectionError` when the broker cannot be reached or refuses the login.
 */
export async function inspectDeadLetters(
  options: InspectDeadLettersOptions,
): Promise<DeadLetterListing> {
  const { limit, previewBytes } = resolveOptions(inspectSchema, options, {
    context: "inspectDeadLetters()",
    errorClass: DeadLetterError,
  });
  return withSession(options, "warren dlq list", async (session) => {
    const { pair, connection } = session;
    const total = await deadLetterCount(session);
    const channel = await sessionChannel(connection);
    const messages: DeadLetter[] = [];
    try {
      const walk = new QueueWalk(channel, pair.deadLetterQueue, total);
      while (messages.length < limit) {
        const message = await walk.next();
        if (message === false) break;
        messages.push(toDeadLetter(message, messages.length, pair.queue, previewBytes));
        await walk.putBack(message);
      }
      await walk.finish();
    } finally {
      // After finish() nothing is unacked; after a failure the close returns
      // whatever is (in the broker's order, but nothing is lost).
      await channel.close().catch(() => {
        // The broker closed it already, which returns them just the same.
      });
    }
    return { ...pair, total, messages };
  });
}
