/**
 * The outbox relay: publishes committed outbox rows with confirms and marks
 * them sent. One batch at a time, inside one transaction that holds the
 * batch's row locks (`FOR UPDATE SKIP LOCKED`), so several relays share the
 * table without ever sending the same row at once:
 *
 * 1. claim up to `batchSize` due rows (a keyed row only by the relay holding
 *    its key, see table.ts);
 * 2. publish them through the client's confirmed publisher: rows without an
 *    ordering key all at once, the rows of one key one after another;
 * 3. mark the confirmed rows sent (or delete them when `retentionMs` is 0),
 *    record refusals (unroutable, nacked) with a backoff, and COMMIT.
 *
 * A relay that dies between the broker's confirm and that COMMIT leaves its
 * rows pending: another relay publishes them again, with the same
 * `messageId`, which an idempotency guard on the consumer suppresses.
 * Connection trouble (broker down, confirm timeout) is not the row's fault:
 * the rows stay pending without using up an attempt and the relay backs off.
 *
 * It wakes on the NOTIFY sent by every insert's COMMIT and also polls every
 * `pollIntervalMs`, so a lost notification (or a dropped LISTEN connection)
 * only delays a row.
 */
import { EventEmitter } from "node:events";
import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";
import type { Warren } from "../client.ts";
import { backoffDelayMs } from "../connection/backoff.ts";
import { ErrorCode, PublishError } from "../errors.ts";
import { resolveOptions } from "../options.ts";
import type { MessageSchemas } from "../publisher/messages.ts";
import { OutboxError } from "./errors.ts";
import { Listener } from "./listener.ts";
import { type RelayMetrics, relayMetrics } from "./relay-metrics.ts";
import { type RelayOptions, type ResolvedRelayOptions, relaySchema } from "./relay-options.ts";
import { explainOutboxError, type OutboxTable, outboxStatements } from "./table.ts";

/** One row relayed. */
export interface RelayedRow {
  messageId: string;
  /** Time from the row's insert to the broker's confirm, in milliseconds. */
  lagMs: number;
  /** `performance.now()` of this process when the confirm arrived. */
  confirmedAt: number;
}

/** Events of {@link OutboxRelay}. */
export interface RelayEvents {
  /** Rows confirmed by the broker and marked sent (after the mark's COMMIT). */
  sent: [rows: RelayedRow[]];
  /** A row was refused by the broker; `failed` when it is now kept as failed. */
  refused: [messageId: string, error: PublishError, failed: boolean];
}

interface ClaimedRow {
  id: string;
  message_id: string;
  exchange: string;
  routing_key: string;
  body: Buffer;
  properties: Record<string, unknown>;
  mandatory: boolean;
  ordering_key: string | null;
  attempts: number;
  age_seconds: number;
}

type Outcome =
  | { kind: "sent"; row: ClaimedRow; confirmedAt: number }
  | { kind: "refused"; row: ClaimedRow; error: PublishError }
  | { kind: "held"; row: ClaimedRow; error?: unknown };

const REFUSALS = new Set<string>([
  ErrorCode.WARREN_PUBLISH_UNROUTABLE,
  ErrorCode.WARREN_PUBLISH_NACKED,
]);

/** A running relay; see the module comment. Stop it with {@link OutboxRelay.stop}. */
export class OutboxRelay extends EventEmitter<RelayEvents> {
  readonly #pool: Pool;
  readonly #table: OutboxTable;
  readonly #sql: ReturnType<typeof outboxStatements>;
  readonly #warren: Warren<MessageSchemas>;
  readonly #options: ResolvedRelayOptions;
  readonly #metrics: RelayMetrics;
  readonly #logger: Logger;
  #state: "new" | "running" | "stopped" = "new";
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #notified = false;
  #listener: Listener | undefined;
  #timers: NodeJS.Timeout[] = [];
  #cleaning = false;

  /** @internal Use `outbox.startRelay`. */
  constructor(
    pool: Pool,
    table: OutboxTable,
    warren: Warren<MessageSchemas>,
    options: RelayOptions,
  ) {
    super();
    this.#pool = pool;
    this.#table = table;
    this.#sql = outboxStatements(table);
    this.#warren = warren;
    const { registry, logger, ...resolved } = resolveOptions(relaySchema, options, {
      context: "outbox.startRelay()",
      errorClass: OutboxError,
    });
    this.#options = resolved;
    this.#metrics = relayMetrics(registry ?? warren.metrics.registry);
    this.#logger = logger ?? warren.logger.child({ component: "outbox-relay", table: table.name });
  }

  /** The relay's settings, defaults applied. */
  get options(): ResolvedRelayOptions {
    return this.#options;
  }

  /** @internal Checks the table, then starts listening, relaying and the timers. */
  async start(): Promise<void> {
    if (this.#state !== "new") {
      throw new OutboxError(
        ErrorCode.WARREN_OUTBOX_RELAY_STATE,
        "startRelay: this relay was already started",
      );
    }
    await this.refreshStats();
    this.#state = "running";
    this.#listener = new Listener(
      this.#pool,
      this.#table.channel,
      this.#options.pollIntervalMs * 5,
      this.#logger,
      () => {
        this.#notified = true;
        this.#wake?.();
      },
    );
    this.#listener.start();
    this.#timers.push(
      setInterval(
        () => void this.refreshStats().catch(() => undefined),
        this.#options.statsIntervalMs,
      ),
    );
    if (this.#options.retentionMs > 0) {
      this.#timers.push(
        setInterval(
          () => void this.cleanup().catch(() => undefined),
          this.#options.cleanupIntervalMs,
        ),
      );
    }
    this.#loop = this.#run();
  }

  /**
   * Finishes the batch in progress (its publishes confirmed and marked),
   * then stops. Idempotent. Does not close the client or the pool.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return this.#loop;
    this.#state = "stopped";
    for (const timer of this.#timers) clearInterval(timer);
    this.#wake?.();
    await this.#loop;
    await this.#listener?.stop();
  }

  /** Refreshes the pending, oldest-pending-age and failed gauges from the table. */
  async refreshStats(): Promise<{ pending: number; oldestPendingSeconds: number; failed: number }> {
    let row: { pending: number; oldest_seconds: number; failed: number } | undefined;
    try {
      row = (await this.#pool.query(this.#sql.stats)).rows[0];
    } catch (error) {
      throw explainOutboxError(error, this.#table, "outbox relay");
    }
    const stats = {
      pending: row?.pending ?? 0,
      oldestPendingSeconds: row?.oldest_seconds ?? 0,
      failed: row?.failed ?? 0,
    };
    const labels = { table: this.#table.name };
    this.#metrics.pending.set(labels, stats.pending);
    this.#metrics.oldestPendingSeconds.set(labels, stats.oldestPendingSeconds);
    this.#metrics.failed.set(labels, stats.failed);
    return stats;
  }

  /** Deletes sent rows older than `retentionMs`, a batch per statement; resolves to how many. */
  async cleanup(): Promise<number> {
    if (this.#cleaning) return 0;
    this.#cleaning = true;
    let deleted = 0;
    try {
      for (;;) {
        const result = await this.#pool.query(this.#sql.cleanup, [
          this.#options.retentionMs,
          this.#options.cleanupBatchSize,
        ]);
        deleted += result.rowCount ?? 0;
        if ((result.rowCount ?? 0) < this.#options.cleanupBatchSize || this.#state !== "running")
          break;
      }
    } finally {
      this.#cleaning = false;
    }
    if (deleted > 0) this.#logger.debug({ deleted }, "deleted sent outbox rows past retention");
    return deleted;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#state === "running") {
      let claimed: number;
      let trouble: unknown;
      try {
        if (!this.#warren.connected) {
          await this.#sleep(this.#options.pollIntervalMs);
          continue;
        }
        ({ claimed, trouble } = await this.#relayBatch());
      } catch (error) {
        trouble = explainOutboxError(error, this.#table, "outbox relay");
        claimed = 0;
      }
      if (trouble !== undefined) {
        const delayMs = backoffDelayMs(failures++, {
          initialDelayMs: 200,
          maxDelayMs: Math.max(this.#options.pollIntervalMs, 5_000),
          multiplier: 2,
        });
        this.#logger.warn(
          { err: trouble, delayMs },
          "outbox relay: batch interrupted; rows stay pending",
        );
        await this.#sleep(delayMs);
        continue;
      }
      failures = 0;
      if (claimed < this.#options.batchSize) await this.#waitForWork();
    }
  }

  async #relayBatch(): Promise<{ claimed: number; trouble: unknown }> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<ClaimedRow>(this.#sql.claim, [this.#options.batchSize]);
      if (rows.length === 0) {
        await client.query("COMMIT");
        return { claimed: 0, trouble: undefined };
      }
      const fetchedAt = performance.now();
      const outcomes = await this.#publishAll(await this.#inKeyOrder(client, rows));
      const sent = outcomes.filter((o) => o.kind === "sent");
      const refused = outcomes.filter((o) => o.kind === "refused");
      if (sent.length > 0) {
        const ids = sent.map((o) => o.row.id);
        await client.query(
          this.#options.retentionMs === 0 ? this.#sql.deleteSent : this.#sql.markSent,
          [ids],
        );
      }
      for (const { row, error } of refused) {
        await client.query(this.#sql.markRefused, [
          row.id,
          `${error.code}: ${error.message}`,
          this.#options.maxAttempts,
          this.#options.retryDelayMs,
          this.#options.maxRetryDelayMs,
        ]);
      }
      await client.query("COMMIT");
      this.#report(sent, refused, fetchedAt);
      const held = outcomes.find((o) => o.kind === "held" && o.error !== undefined);
      return { claimed: rows.length, trouble: held?.kind === "held" ? held.error : undefined };
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Leaves out (pending, for a later claim) the rows of a key whose first
   * pending row the claim did not take. The claim's scan tries the key's
   * advisory lock row by row: when the relay holding it commits mid-scan, the
   * scan has already skipped the key's earlier rows and takes the later ones.
   */
  async #inKeyOrder(client: PoolClient, rows: ClaimedRow[]): Promise<ClaimedRow[]> {
    const keys = [
      ...new Set(rows.flatMap((r) => (r.ordering_key === null ? [] : [r.ordering_key]))),
    ];
    if (keys.length === 0) return rows;
    const { rows: firsts } = await client.query<{ ordering_key: string; first: string }>(
      this.#sql.firstPending,
      [keys],
    );
    const first = new Map(firsts.map((f) => [f.ordering_key, f.first]));
    const claimedFirst = new Map<string, string>();
    for (const row of rows) {
      if (row.ordering_key !== null && !claimedFirst.has(row.ordering_key)) {
        claimedFirst.set(row.ordering_key, String(row.id));
      }
    }
    return rows.filter(
      (r) =>
        r.ordering_key === null || first.get(r.ordering_key) === claimedFirst.get(r.ordering_key),
    );
  }

  /** Publishes every claimed row; rows of one ordering key one after another. */
  #publishAll(rows: ClaimedRow[]): Promise<Outcome[]> {
    const chains = new Map<string, Promise<Outcome>>();
    return Promise.all(
      rows.map((row) => {
        if (row.ordering_key === null) return this.#publish(row);
        const previous = chains.get(row.ordering_key);
        // A key's later rows wait for the earlier one's confirm; after a
        // refusal they are held back (left pending) so that order holds.
        const next =
          previous === undefined
            ? this.#publish(row)
            : previous.then((before): Promise<Outcome> | Outcome =>
                before.kind === "sent" ? this.#publish(row) : { kind: "held", row },
              );
        chains.set(row.ordering_key, next);
        return next;
      }),
    );
  }

  async #publish(row: ClaimedRow): Promise<Outcome> {
    try {
      await this.#warren.send({
        exchange: row.exchange,
        routingKey: row.routing_key,
        content: row.body,
        properties: row.properties,
        mandatory: row.mandatory,
        timeoutMs: this.#options.publishTimeoutMs,
      });
      return { kind: "sent", row, confirmedAt: performance.now() };
    } catch (error) {
      if (error instanceof PublishError && REFUSALS.has(error.code))
        return { kind: "refused", row, error };
      return { kind: "held", row, error };
    }
  }

  #report(sent: Outcome[], refused: Outcome[], fetchedAt: number): void {
    const labels = { table: this.#table.name };
    const relayed: RelayedRow[] = [];
    for (const outcome of sent) {
      if (outcome.kind !== "sent") continue;
      // Age at claim time (database clock) plus time to confirm (local
      // clock): no clock skew between the hosts enters the figure.
      const lagMs = outcome.row.age_seconds * 1000 + (outcome.confirmedAt - fetchedAt);
      this.#metrics.lag.observe(labels, lagMs / 1000);
      relayed.push({ messageId: outcome.row.message_id, lagMs, confirmedAt: outcome.confirmedAt });
    }
    if (relayed.length > 0) {
      this.#metrics.relayed.inc(labels, relayed.length);
      this.emit("sent", relayed);
    }
    for (const outcome of refused) {
      if (outcome.kind !== "refused") continue;
      const failed = outcome.row.attempts + 1 >= this.#options.maxAttempts;
      this.#metrics.refusals.inc(labels);
      if (failed) this.#metrics.failed.inc(labels);
      this.#logger[failed ? "error" : "warn"](
        {
          messageId: outcome.row.message_id,
          err: outcome.error,
          attempts: outcome.row.attempts + 1,
        },
        failed
          ? "outbox row kept as failed"
          : "outbox row refused by the broker; retrying after a backoff",
      );
      this.emit("refused", outcome.row.message_id, outcome.error, failed);
    }
  }

  #waitForWork(): Promise<void> {
    if (this.#notified) {
      this.#notified = false;
      return Promise.resolve();
    }
    return this.#sleep(this.#options.pollIntervalMs);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#state !== "running") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}
