/**
 * `replayDeadLetters`: move dead letters from `Q.dlq` back to `Q`.
 *
 * The no-loss rule is the consumer runtime's (docs/architecture.md#handler-outcomes): a dead letter is
 * acked only after the broker confirmed its copy in `Q`. One message at a
 * time, on one confirm channel: `basic.get` (manual ack) → publish the copy
 * to the default exchange with routing key `Q`, mandatory → wait for the
 * confirm → ack the dead letter. A nack, a return (no queue `Q`), a timeout
 * or a lost channel stops the replay before that ack: the failed dead letter
 * stays in `Q.dlq`, and so do those the filter skipped, in their original
 * order ({@link QueueWalk} puts them back; if the channel itself died the
 * broker returns them, unlost but perhaps reordered). A crash between the confirm and the ack
 * leaves the message in both queues, so the worst case is a duplicate in `Q`:
 * the copy keeps its `messageId`, which the idempotency guard recognises.
 *
 * Only the messages ready when the replay starts are read, so a replayed
 * message that fails again and comes back to `Q.dlq` during the replay is
 * not replayed a second time.
 *
 * A dry run takes the same walk and puts every message back.
 *
 * What the copy carries (docs/dlq.md has the table): the body and properties
 * unchanged (without `expiration`, `userId` and `clusterId`, as the runtime's
 * own copies), no `warren-attempt` header (its absence means attempt 1) so the message gets
 * its full retry budget again, the origin headers kept (filled from `x-death` when the broker
 * dead-lettered it), the failure headers and every broker-owned header
 * (`x-death` and the other death headers, `x-delivery-count`, `CC`/`BCC`)
 * removed, and a short history: `warren-replay-count`, `warren-replayed-at`,
 * `warren-replayed-from`, and `warren-previous-failure` (a table with the
 * reason, error type and message, attempts and times of the last failure).
 */
import type { ConfirmChannel, GetMessage, Options } from "amqplib";
import { isBrokerOwned } from "../consumer/delivery-headers.ts";
import { ErrorCode } from "../errors.ts";
import { copyProperties, HEADER } from "../headers.ts";
import { integer, resolveOptions } from "../options.ts";
import { partitionExchangeName } from "../topology/names.ts";
import { type DeadLetter, toDeadLetter } from "./dead-letter.ts";
import { DeadLetterError, type ReplayProgress } from "./errors.ts";
import { dlqDefaults } from "./inspect.ts";
import {
  type DeadLetterSession,
  type DeadLetterTargetOptions,
  deadLetterCount,
  dlqTargetSchema,
  exchangeExists,
  type QueuePair,
  readyCount,
  sessionConfirmChannel,
  withSession,
} from "./target.ts";
import { QueueWalk } from "./walk.ts";

/**
 * Which dead letters to replay: fields that must all match (`reason` is
 * `warren-reason`, else the broker's `x-death` reason such as
 * `delivery_limit`), or a predicate.
 */
export type DeadLetterFilter =
  | { reason?: string; errorType?: string }
  | ((letter: DeadLetter) => boolean);

/** Options of {@link replayDeadLetters}. */
export interface ReplayDeadLettersOptions extends DeadLetterTargetOptions {
  /**
   * Most messages to replay (those skipped by the filter do not count).
   * @default every matching message ready in `Q.dlq` when the replay starts
   */
  limit?: number;
  /** Replay only the dead letters that match. @default all */
  filter?: DeadLetterFilter;
  /**
   * Report what would be replayed; publish and remove nothing.
   * @default false
   */
  dryRun?: boolean;
  /**
   * How long to wait for the broker's confirm of one copy, in milliseconds.
   * @default 30000
   */
  confirmTimeoutMs?: number;
}

/** One dead letter a replay moved (or, on a dry run, would move). */
export interface ReplayedLetter {
  /** Its position in `Q.dlq` when the replay started (0 is the head). */
  position: number;
  messageId: string | undefined;
  reason: string | undefined;
}

/** What {@link replayDeadLetters} did. */
export interface ReplayResult extends QueuePair {
  dryRun: boolean;
  /** Messages ready in `Q.dlq` when the replay started. */
  total: number;
  /** Dead letters read. */
  scanned: number;
  /** Moved to `Q` (on a dry run: would be). */
  replayed: number;
  /** Read but left in `Q.dlq` because the filter did not match. */
  skipped: number;
  /** The moved ones, in order. */
  messages: ReplayedLetter[];
}

/** warren's failure headers: they describe the last failure, which the copy has not had yet. */
const FAILURE_HEADERS = [
  HEADER.attempts,
  HEADER.reason,
  HEADER.errorType,
  HEADER.errorMessage,
  HEADER.errorStack,
  HEADER.firstFailedAt,
  HEADER.failedAt,
];

function matcher(filter: DeadLetterFilter | undefined): (letter: DeadLetter) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === "function") return filter;
  return (letter) =>
    (filter.reason === undefined || letter.reason === filter.reason) &&
    (filter.errorType === undefined || letter.errorType === filter.errorType);
}

/** The headers of the copy replayed to `Q` (see the module comment). */
export function replayHeaders(
  headers: Record<string, unknown> | undefined,
  letter: DeadLetter,
  pair: QueuePair,
  now: Date,
): Record<string, unknown> {
  // Broker-owned headers (x-death and the other death headers, the delivery
  // count, and CC/BCC, which would route the copy into further queues) are
  // meaningless or harmful on a fresh copy; none is carried over.
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(headers ?? {})) {
    if (!isBrokerOwned(name)) copy[name] = headers?.[name];
  }
  for (const name of [...FAILURE_HEADERS, HEADER.attempt]) delete copy[name];
  copy[HEADER.originalQueue] ??= pair.queue;
  if (letter.originalExchange !== undefined) {
    copy[HEADER.originalExchange] ??= letter.originalExchange;
  }
  if (letter.originalRoutingKey !== undefined) {
    copy[HEADER.originalRoutingKey] ??= letter.originalRoutingKey;
  }
  const previous: Record<string, string | number> = {};
  const record = (key: string, value: string | number | undefined) => {
    if (value !== undefined) previous[key] = value;
  };
  record("reason", letter.reason);
  record("error-type", letter.errorType);
  record("error-message", letter.errorMessage);
  record("attempts", letter.attempts);
  record("first-failed-at", letter.firstFailedAt);
  record("failed-at", letter.failedAt ?? letter.xDeath?.[0]?.time);
  copy[HEADER.previousFailure] = previous;
  copy[HEADER.replayCount] = letter.replayCount + 1;
  copy[HEADER.replayedAt] = now.toISOString();
  copy[HEADER.replayedFrom] = pair.deadLetterQueue;
  return copy;
}

/**
 * Publishes one copy and resolves when the broker confirmed it; rejects with
 * the reason on a nack, a return, a closed channel or a timeout.
 */
function publishConfirmed(
  channel: ConfirmChannel,
  target: { exchange: string; routingKey: string },
  content: Buffer,
  properties: Options.Publish,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let returned = false;
    const onReturn = () => {
      returned = true;
    };
    const onClose = () => finish(new Error("the channel closed before the broker confirmed"));
    const timer = setTimeout(
      () => finish(new Error(`the broker did not confirm within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (error: Error | undefined) => {
      clearTimeout(timer);
      channel.off("return", onReturn);
      channel.off("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    channel.on("return", onReturn);
    channel.on("close", onClose);
    try {
      const where = target.exchange === "" ? target.routingKey : target.exchange;
      channel.publish(target.exchange, target.routingKey, content, properties, (error: unknown) => {
        if (error !== null && error !== undefined) {
          finish(new Error(`the broker refused the copy (nack): is "${where}" full?`));
        } else if (returned) {
          finish(new Error(`the broker returned the copy: no queue "${where}" took it`));
        } else {
          finish(undefined);
        }
      });
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

function stopped(
  pair: QueuePair,
  progress: ReplayProgress,
  letter: DeadLetter | undefined,
  cause: unknown,
): DeadLetterError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const which =
    letter === undefined
      ? "reading the next dead letter"
      : `replaying message ${letter.messageId === undefined ? `at position ${letter.position}` : `"${letter.messageId}"`}`;
  return new DeadLetterError(
    ErrorCode.WARREN_DLQ_REPLAY_FAILED,
    `replay of "${pair.deadLetterQueue}" to "${pair.queue}" in vhost "${pair.vhost}" stopped while ${which}: ${why}. ` +
      `${progress.replayed} message${progress.replayed === 1 ? " was" : "s were"} replayed; the failed one and all others are still in "${pair.deadLetterQueue}". Fix the cause and run the replay again.`,
    { cause, progress },
  );
}

/**
 * Where replayed copies go: straight to the work queue `Q`, or, when `Q` is
 * partitioned (no queue `Q`, an exchange `Q.partitions`), into its hash
 * exchange with each message's original routing key, so that the hash puts
 * it back in the partition of its key (docs/dlq.md#partitioned-queues).
 */
async function replayRoute(
  session: DeadLetterSession,
): Promise<(letter: DeadLetter) => { exchange: string; routingKey: string }> {
  const { pair, connection } = session;
  if ((await readyCount(connection, pair.queue)) !== undefined) {
    return () => ({ exchange: "", routingKey: pair.queue });
  }
  const hash = partitionExchangeName(pair.queue);
  if (await exchangeExists(connection, hash)) {
    return (letter) => ({ exchange: hash, routingKey: letter.originalRoutingKey ?? "" });
  }
  throw new DeadLetterError(
    ErrorCode.WARREN_DLQ_TARGET_MISSING,
    `cannot replay "${pair.deadLetterQueue}": its work queue "${pair.queue}" does not exist in vhost "${pair.vhost}" (nor, for a partitioned queue, its exchange "${hash}"). Declare it (\`warren topology apply <file>\`) and run the replay again; nothing was moved`,
  );
}

const replaySchema = dlqTargetSchema.extend({
  limit: integer(1).optional(),
  confirmTimeoutMs: integer(1).default(dlqDefaults.confirmTimeoutMs),
});

/**
 * Moves dead letters from `Q.dlq` back to `Q` with their attempt count reset,
 * acking each only after the broker confirmed its copy. Messages that do not
 * match `filter` stay in `Q.dlq`, in order.
 *
 * Throws `DeadLetterError` `WARREN_DLQ_NOT_FOUND` (no `Q.dlq`),
 * `WARREN_DLQ_TARGET_MISSING` (no `Q`), `WARREN_DLQ_REPLAY_FAILED` (stopped
 * part way; `error.progress` has the counts), `WARREN_INVALID_OPTIONS`,
 * and `ConnectionError` when the broker cannot be reached.
 */
export async function replayDeadLetters(options: ReplayDeadLettersOptions): Promise<ReplayResult> {
  const resolved = resolveOptions(replaySchema, options, {
    context: "replayDeadLetters()",
    errorClass: DeadLetterError,
  });
  const limit = resolved.limit ?? Number.POSITIVE_INFINITY;
  const timeoutMs = resolved.confirmTimeoutMs;
  const dryRun = options.dryRun ?? false;
  const matches = matcher(options.filter);
  return withSession(options, "warren dlq replay", async (session) => {
    const { pair, connection } = session;
    const total = await deadLetterCount(session);
    const route = await replayRoute(session);

    const channel = await sessionConfirmChannel(connection);
    const result: ReplayResult = {
      ...pair,
      dryRun,
      total,
      scanned: 0,
      replayed: 0,
      skipped: 0,
      messages: [],
    };
    let channelOpen = true;
    channel.on("close", () => {
      channelOpen = false;
    });
    const walk = new QueueWalk(channel, pair.deadLetterQueue, total);
    let current: GetMessage | undefined;
    let letter: DeadLetter | undefined;
    try {
      while (result.replayed < limit) {
        current = undefined;
        letter = undefined;
        const message = await walk.next();
        if (message === false) break;
        current = message;
        letter = toDeadLetter(message, result.scanned, pair.queue, 0);
        result.scanned++;
        if (!matches(letter)) {
          result.skipped++;
          await walk.putBack(message);
          continue;
        }
        if (dryRun) {
          await walk.putBack(message);
        } else {
          const headers = replayHeaders(message.properties.headers, letter, pair, new Date());
          await publishConfirmed(
            channel,
            route(letter),
            message.content,
            { ...copyProperties(message.properties, headers), mandatory: true },
            timeoutMs,
          );
          walk.take(message);
        }
        current = undefined;
        result.replayed++;
        result.messages.push({
          position: letter.position,
          messageId: letter.messageId,
          reason: letter.reason,
        });
      }
      await walk.finish();
    } catch (error) {
      if (channelOpen) {
        // Best effort: put the failed one and the rest back in order. If this
        // fails too, closing the channel still returns them all.
        try {
          if (current !== undefined) await walk.putBack(current);
          await walk.finish();
        } catch {
          // The channel close below returns whatever is still unacked.
        }
      }
      const replayed = dryRun ? 0 : result.replayed;
      throw stopped(pair, { replayed, scanned: result.scanned }, letter, error);
    } finally {
      // Waits for close-ok, so every ack and nack above has reached the broker.
      await channel.close().catch(() => {
        // Closed by the broker already: it returned the unacked ones itself.
      });
    }
    return result;
  });
}
