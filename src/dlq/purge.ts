/**
 * `purgeDeadLetters`: empty `Q.dlq` for good. It is the one dead-letter
 * operation that destroys messages, so it refuses unless the caller says
 * `yes` explicitly (the CLI's `--yes`).
 */
import { z } from "zod";
import { ErrorCode } from "../errors.ts";
import { resolveOptions } from "../options.ts";
import { DeadLetterError } from "./errors.ts";
import {
  type DeadLetterTargetOptions,
  deadLetterCount,
  dlqTargetSchema,
  type QueuePair,
  sessionChannel,
  withSession,
} from "./target.ts";

/** Options of {@link purgeDeadLetters}. */
export interface PurgeDeadLettersOptions extends DeadLetterTargetOptions {
  /** Must be `true`: the messages are deleted and cannot be recovered. */
  yes: boolean;
}

/** What {@link purgeDeadLetters} did. */
export interface PurgeResult extends QueuePair {
  /** Messages the broker deleted. */
  purged: number;
}

/**
 * Deletes every ready message in `Q.dlq` and reports how many.
 *
 * Throws `DeadLetterError` `WARREN_DLQ_PURGE_UNCONFIRMED` (before touching
 * the broker) unless `yes` is `true`, `WARREN_DLQ_NOT_FOUND` when `Q.dlq`
 * does not exist, and `ConnectionError` when the broker cannot be reached.
 */
export async function purgeDeadLetters(options: PurgeDeadLettersOptions): Promise<PurgeResult> {
  resolveOptions(
    dlqTargetSchema.extend({ yes: z.boolean({ error: "true or false" }).optional() }),
    options,
    {
      context: "purgeDeadLetters()",
      errorClass: DeadLetterError,
    },
  );
  if (options.yes !== true) {
    throw new DeadLetterError(
      ErrorCode.WARREN_DLQ_PURGE_UNCONFIRMED,
      `purging the dead letters of "${options.queue}" deletes them for good: confirm with --yes (yes: true in code), or replay them instead with \`warren dlq replay ${options.queue}\``,
    );
  }
  return withSession(options, "warren dlq purge", async (session) => {
    const { pair, connection } = session;
    await deadLetterCount(session);
    const channel = await sessionChannel(connection);
    try {
      const { messageCount } = await channel.purgeQueue(pair.deadLetterQueue);
      return { ...pair, purged: messageCount };
    } finally {
      await channel.close().catch(() => {
        // Already closed by the broker.
      });
    }
  });
}
