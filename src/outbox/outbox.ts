/**
 * The transactional outbox (docs/outbox.md): `outbox.publish(client, ...)`
 * writes the message as a row in the caller's open transaction, so the
 * message exists exactly when the caller's own writes commit. A relay
 * (`outbox.startRelay(warren)`) publishes committed rows with confirms.
 *
 * The message is checked and built at insert time by the publisher's own
 * code (registry, schema, JSON, `maxBytes`) and gets its `messageId` then,
 * so every copy the relay ever sends carries the same id.
 */
import type { Pool } from "pg";
import { z } from "zod";
import type { Warren } from "../client.ts";
import { ErrorCode, PublishError } from "../errors.ts";
import { integer, nonEmptyString, opaque, resolveOptions } from "../options.ts";
import type {
  MessageRegistry,
  MessageSchemas,
  PayloadOf,
  RoutingKeyOf,
} from "../publisher/messages.ts";
import { publisherDefaults } from "../publisher/options.ts";
import { prepareEnvelope, scheduleEnvelope } from "../publisher/prepare.ts";
import type { PublishOptions } from "../publisher/publish.ts";
import { compileTopology } from "../topology/compile.ts";
import type { CompiledTopology } from "../topology/model.ts";
import type { Topology } from "../topology/schema.ts";
import { OutboxError } from "./errors.ts";
import { type FailedRow, listFailedRows, retryFailedRows } from "./failed.ts";
import { OutboxRelay } from "./relay.ts";
import type { RelayOptions } from "./relay-options.ts";
import {
  DEFAULT_OUTBOX_TABLE,
  explainOutboxError,
  outboxStatements,
  resolveOutboxTable,
} from "./table.ts";

/** The part of a `pg` client the outbox uses: a `PoolClient` or `Client` inside BEGIN. */
export interface OutboxClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** Options of {@link createPostgresOutbox}. Only `pool` is required. */
export interface PostgresOutboxOptions<M extends MessageSchemas = MessageSchemas> {
  /** The `pg` pool of the service's database; relays and the CLI use it. */
  pool: Pool;
  /** Table name, optionally schema-qualified. @default "warren_outbox" */
  table?: string;
  /** Message registry from `defineMessages`: types and validates `publish` as the publisher does. */
  messages?: MessageRegistry<M>;
  /** Exchange the rows are published to unless a call names another. @default "" */
  exchange?: string;
  /**
   * Largest JSON body accepted, in bytes (as the publisher's `maxBytes`).
   * @default 1048576 (1 MiB)
   */
  maxBytes?: number;
  /**
   * The topology (as `loadTopology` returns it, or compiled): it declares the
   * publish delays of each exchange, so `outbox.publish(..., { delay })`
   * needs it, and it checks `priority` and `expiresIn` as `publish` does.
   * @default none: a row with `delay` is refused
   */
  topology?: Topology | CompiledTopology;
}

/**
 * Per-call options of `outbox.publish`: those of `publish`, plus
 * `orderingKey`. With `delay` the row is addressed to the exchange's wait
 * exchange (`orders.delay.10m`): the wait starts when the relay publishes it.
 */
export interface OutboxPublishOptions extends Omit<PublishOptions, "timeoutMs"> {
  /**
   * Rows with the same ordering key are published in insert order, one
   * relay at a time (e.g. the order id). Rows without one go out in any order.
   * @default none
   */
  orderingKey?: string;
}

/** What `outbox.publish` wrote. */
export interface OutboxRow {
  /** Row id (insert order). */
  id: string;
  /** The message id every published copy carries. */
  messageId: string;
}

/** The outbox returned by {@link createPostgresOutbox}. */
export interface PostgresOutbox<M extends MessageSchemas = MessageSchemas> {
  /** The table, as given. */
  readonly table: string;
  readonly pool: Pool;
  /**
   * Validates `message` like `publish` and inserts it in `client`'s open
   * transaction. It is published only if that transaction commits. Rejects
   * with `PublishError` (`WARREN_PUBLISH_INVALID_PAYLOAD`,
   * `WARREN_PUBLISH_TOO_LARGE`, `WARREN_PUBLISH_DELAY_UNDECLARED`,
   * `WARREN_PUBLISH_INVALID_OPTIONS`, `WARREN_PUBLISH_UNROUTABLE` for a
   * delayed message no queue would receive) or `OutboxError`
   * (`WARREN_OUTBOX_NOT_IN_TRANSACTION`, `WARREN_OUTBOX_TABLE_MISSING`,
   * `WARREN_OUTBOX_DATABASE_UNAVAILABLE`); on any of them roll back.
   */
  publish<K extends RoutingKeyOf<M>>(
    client: OutboxClient,
    routingKey: K,
    message: PayloadOf<M, K>,
    options?: OutboxPublishOptions,
  ): Promise<OutboxRow>;
  /** Starts a relay publishing this outbox's rows through `warren` (see {@link RelayOptions}). */
  startRelay(warren: Warren<MessageSchemas>, options?: RelayOptions): Promise<OutboxRelay>;
  /** Rows kept as failed, oldest first, with their last error. */
  listFailed(options?: { limit?: number }): Promise<{ total: number; rows: FailedRow[] }>;
  /** Puts failed rows (all, or those ids) back to pending; resolves to how many. */
  retryFailed(ids?: readonly string[]): Promise<number>;
}

const outboxSchema = z.object({
  pool: opaque<Pool>().refine((pool) => typeof pool?.connect === "function", {
    error: "a pg Pool",
  }),
  table: nonEmptyString().default(DEFAULT_OUTBOX_TABLE),
  messages: opaque<MessageRegistry | undefined>().optional(),
  exchange: z.string({ error: "a string" }).default(""),
  maxBytes: integer(1).default(publisherDefaults.maxBytes),
  topology: opaque<Topology | CompiledTopology | undefined>()
    .refine((value) => value === undefined || (typeof value === "object" && value !== null), {
      error: "a topology from loadTopology()",
    })
    .optional(),
});

/**
 * False when `client` is certainly not inside a transaction block: a pool
 * (each query may take another connection, and autocommits), or a `pg`
 * client whose last ReadyForQuery said idle (`getTransactionStatus()`,
 * pg >= 8.12). Other clients are trusted.
 */
function inTransaction(client: OutboxClient): boolean {
  const c = client as { getTransactionStatus?: unknown; totalCount?: unknown; connect?: unknown };
  if (typeof c.getTransactionStatus === "function") {
    return (c.getTransactionStatus as () => string | null).call(client) !== "I";
  }
  return !(typeof c.totalCount === "number" && typeof c.connect === "function");
}

/**
 * Creates the outbox. Nothing is queried here; run {@link migrateOutbox}
 * once before the first publish.
 *
 * @throws OutboxError `WARREN_INVALID_OPTIONS` for a bad option (a table
 *   name that is not `table` or `schema.table`, a `maxBytes` below 1).
 */
export function createPostgresOutbox<const M extends MessageSchemas = MessageSchemas>(
  options: PostgresOutboxOptions<M>,
): PostgresOutbox<M> {
  const resolved = resolveOptions(outboxSchema, options, {
    context: "createPostgresOutbox()",
    errorClass: OutboxError,
  });
  const table = resolveOutboxTable(resolved.table);
  const statements = outboxStatements(table);
  const { exchange, maxBytes } = resolved;
  const topology =
    resolved.topology === undefined || "retryPolicies" in resolved.topology
      ? resolved.topology
      : compileTopology(resolved.topology);
  const messages = resolved.messages as MessageRegistry | undefined;
  return {
    table: table.name,
    pool: resolved.pool,
    async publish(client, routingKey, message, callOptions = {}) {
      const { orderingKey, ...publishOptions } = callOptions;
      if (orderingKey !== undefined && (typeof orderingKey !== "string" || orderingKey === "")) {
        throw new OutboxError(
          ErrorCode.WARREN_INVALID_OPTIONS,
          `outbox.publish("${routingKey}"): option orderingKey must be a non-empty string, got ${JSON.stringify(orderingKey)}`,
        );
      }
      if (!inTransaction(client)) {
        throw new OutboxError(
          ErrorCode.WARREN_OUTBOX_NOT_IN_TRANSACTION,
          `outbox.publish("${routingKey}"): the client is not inside a transaction, so the message would not commit with your writes; nothing was inserted. Take a client with pool.connect(), run BEGIN, do your writes and outbox.publish(client, ...) on it, then COMMIT.`,
        );
      }
      if (publishOptions.delay !== undefined && topology === undefined) {
        throw new PublishError(
          ErrorCode.WARREN_PUBLISH_DELAY_UNDECLARED,
          `outbox.publish("${routingKey}"): a delay needs the topology, which declares the delays each exchange allows; this outbox has none. Nothing was inserted. Pass createPostgresOutbox({ topology: await loadTopology(file) }).`,
        );
      }
      const envelope = scheduleEnvelope(
        prepareEnvelope(
          messages,
          publishOptions.exchange ?? exchange,
          routingKey,
          message,
          publishOptions,
          maxBytes,
        ),
        publishOptions,
        topology,
      );
      const messageId = envelope.properties.messageId as string;
      let rows: Record<string, unknown>[];
      try {
        ({ rows } = await client.query(statements.insert, [
          messageId,
          envelope.exchange,
          envelope.routingKey,
          envelope.content,
          JSON.stringify(envelope.properties),
          envelope.mandatory ?? true,
          orderingKey ?? null,
        ]));
      } catch (error) {
        throw explainOutboxError(error, table, `outbox.publish("${routingKey}")`, true);
      }
      return { id: String(rows[0]?.id), messageId };
    },
    async startRelay(warren, relayOptions = {}) {
      const relay = new OutboxRelay(resolved.pool, table, warren, relayOptions);
      await relay.start();
      return relay;
    },
    listFailed: (listOptions = {}) =>
      listFailedRows(resolved.pool, table, listOptions.limit ?? 100),
    retryFailed: (ids) => retryFailedRows(resolved.pool, table, ids),
  };
}
