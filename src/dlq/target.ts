/**
 * Where a dead-letter operation acts: the broker (the same endpoint options
 * as `warren topology`), the vhost, and the pair of queues `Q` / `Q.dlq`.
 * Opening the connection and checking that the queues exist live here, so
 * that list, replay and purge report a missing queue or a refused login the
 * same way.
 *
 * Queue checks use a throwaway channel: a passive declare of a missing queue
 * makes the broker close the channel it was sent on (404 NOT_FOUND).
 */
import type { Channel, ChannelModel, ConfirmChannel } from "amqplib";
import { z } from "zod";
import { type BrokerEndpointOptions, resolveEndpoint, secretsOf } from "../connection/endpoint.ts";
import { brokerEndpointSchema } from "../connection/endpoint-options.ts";
import { openOneShotConnection, replyCode } from "../connection/one-shot.ts";
import { fixedHost, ReopeningChannel } from "../connection/reopening-channel.ts";
import { maskSecrets } from "../connection/url.ts";
import { ConnectionError, ErrorCode } from "../errors.ts";
import { nonEmptyString } from "../options.ts";
import { deadLetterQueueName } from "../topology/names.ts";
import { DeadLetterError } from "./errors.ts";

/** The checks of {@link DeadLetterTargetOptions}. */
export const dlqTargetSchema = brokerEndpointSchema.extend({
  queue: z.string({ error: "a queue name" }),
  vhost: nonEmptyString().optional(),
});

/** Options shared by every dead-letter operation. */
export interface DeadLetterTargetOptions extends BrokerEndpointOptions {
  /** The work queue `Q`; `Q.dlq` is accepted too and means the same. */
  queue: string;
  /**
   * The vhost of the queues.
   * @default the vhost in `url`'s path, else `/`
   */
  vhost?: string;
}

/** The queues of one operation, resolved. */
export interface QueuePair {
  vhost: string;
  /** The work queue `Q`. */
  queue: string;
  /** Its dead-letter queue `Q.dlq`. */
  deadLetterQueue: string;
}

const DLQ_SUFFIX = ".dlq";

/** `orders.fulfil` and `orders.fulfil.dlq` both name the pair (`orders.fulfil`, `orders.fulfil.dlq`). */
export function queuePair(queue: string, vhost: string): QueuePair {
  const work = queue.endsWith(DLQ_SUFFIX) ? queue.slice(0, -DLQ_SUFFIX.length) : queue;
  if (work === "") {
    throw new DeadLetterError(
      ErrorCode.WARREN_INVALID_OPTIONS,
      `queue name "${queue}" is empty: pass the work queue, e.g. orders.fulfil (or orders.fulfil.dlq)`,
    );
  }
  return { vhost, queue: work, deadLetterQueue: deadLetterQueueName(work) };
}

/** A connection to the target vhost, with the pair of queues it acts on. */
export interface DeadLetterSession {
  pair: QueuePair;
  connection: ChannelModel;
  /** Replaces the URLs' passwords in `text` with `***`. */
  mask: (text: string) => string;
  close(): Promise<void>;
}

/**
 * One channel on the session's connection, from the connection core
 * (connection/reopening-channel.ts): its `error` events are handled there,
 * and the operation that failed rejects with the same error.
 */
export function sessionChannel(connection: ChannelModel): Promise<Channel> {
  return new ReopeningChannel({
    host: fixedHost(connection),
    create: (model) => model.createChannel(),
  }).get();
}

/** A confirm channel on the session's connection; see {@link sessionChannel}. */
export function sessionConfirmChannel(connection: ChannelModel): Promise<ConfirmChannel> {
  return new ReopeningChannel({
    host: fixedHost(connection),
    create: (model) => model.createConfirmChannel(),
  }).get();
}

/**
 * Opens a connection for one operation. `run` gets the session; the
 * connection is closed afterwards whatever happens, and every error message
 * leaving here has the URLs' passwords masked.
 */
export async function withSession<T>(
  options: DeadLetterTargetOptions,
  name: string,
  run: (session: DeadLetterSession) => Promise<T>,
): Promise<T> {
  const urls = secretsOf(options);
  const mask = (text: string) => maskSecrets(text, urls);
  try {
    const endpoint = await resolveEndpoint(options);
    const pair = queuePair(options.queue, options.vhost ?? endpoint.urlVhost ?? "/");
    const connection = await openOneShotConnection(endpoint, pair.vhost, name);
    connection.on("error", () => {
      // A connection error also fails the pending operation; it is reported there.
    });
    const session: DeadLetterSession = {
      pair,
      connection,
      mask,
      close: () =>
        connection.close().catch(() => {
          // Already closed by the broker: nothing left to release.
        }),
    };
    try {
      return await run(session);
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof Error) error.message = mask(error.message);
    throw error;
  }
}

/**
 * The number of ready messages in `queue`, or `undefined` when it does not
 * exist. Other refusals (no permission) are thrown.
 */
export async function readyCount(
  connection: ChannelModel,
  queue: string,
): Promise<number | undefined> {
  const channel = await sessionChannel(connection);
  try {
    const ok = await channel.checkQueue(queue);
    await channel.close();
    return ok.messageCount;
  } catch (error) {
    if (replyCode(error) === 404) return undefined;
    if (replyCode(error) === 403) {
      throw new ConnectionError(
        ErrorCode.WARREN_BROKER_AUTH,
        `the broker refused access to queue "${queue}" (${(error as Error).message}): grant the user read and write permissions on the vhost`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** True when exchange `name` exists; other refusals (no permission) are thrown. */
export async function exchangeExists(connection: ChannelModel, name: string): Promise<boolean> {
  const channel = await sessionChannel(connection);
  try {
    await channel.checkExchange(name);
    await channel.close();
    return true;
  } catch (error) {
    if (replyCode(error) === 404) return false;
    throw error;
  }
}

/** The ready count of `Q.dlq`; throws `WARREN_DLQ_NOT_FOUND` when it does not exist. */
export async function deadLetterCount(session: DeadLetterSession): Promise<number> {
  const { vhost, queue, deadLetterQueue } = session.pair;
  const count = await readyCount(session.connection, deadLetterQueue);
  if (count === undefined) {
    throw new DeadLetterError(
      ErrorCode.WARREN_DLQ_NOT_FOUND,
      `queue "${deadLetterQueue}" does not exist in vhost "${vhost}": check the queue name ("${queue}") and --vhost, or declare the topology with \`warren topology apply <file>\` (every queue Q gets Q.dlq)`,
    );
  }
  return count;
}
