/**
 * One reliability scenario: a vhost of its own with a quorum work queue
 * (replicas on every node), a ledger table in PostgreSQL, a publisher in the
 * test process and consumer processes, the faults the scenario injects (each
 * time-stamped), and at the end the report and the pass criteria every
 * scenario shares: lost = 0, duplicate executions = 0, no unhandled error or
 * rejection in any process, work queue and retry tier empty.
 *
 * Recovery time: for each fault, the longest pause in handling (between two
 * ledger rows, all consumers together) within the 60 s after it; the report
 * gives p50 and p99 over the scenario's faults.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pino } from "pino";
import { connect, type Warren } from "../../../src/client.ts";
import { heldDeadLetters, type ManagementQueue } from "../../../src/management/client.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import type { Topology } from "../../../src/topology/schema.ts";
import type { LedgerConsumerConfig } from "../fixtures/ledger-consumer.ts";
import { ConsumerProcess } from "./consumers.ts";
import { type PublishOptions, type PublishResult, publishNumbered } from "./publish.ts";

/** Where the scenario runs: broker URLs (one node or several) and PostgreSQL. */
export interface ScenarioEnv {
  urls: string[];
  managementUrls: string[];
  databaseUrl: string;
  /** A management API request to a node that answers. */
  management(path: string, init?: RequestInit): Promise<Response>;
  /** Shown in the report: "3-node cluster" or "1 node". */
  where: string;
  /**
   * What the brokers say about `vhost`, node by node, with their log tails:
   * added to a failure message. Optional.
   */
  diagnose?(vhost: string): Promise<string>;
  /**
   * Releases the copies quorum queue `queue` holds in its at-least-once
   * dead-letter hop (see {@link HELD_AFTER_MS}) and says what it did.
   * Optional: without it, held copies fail the drain.
   */
  releaseHeldCopies?(vhost: string, queue: string): Promise<string>;
}

export interface ScenarioOptions {
  /** Idempotency lease of the consumers, in milliseconds. @default 5000 */
  leaseMs?: number;
  /** Broker delivery limit of the work queue. @default 20 */
  deliveryLimit?: number;
}

export interface Report {
  scenario: string;
  where: string;
  published: number;
  confirmed: number;
  handled: number;
  lost: number;
  duplicateExecutions: number;
  duplicatesSuppressed: number;
  deadLettered: number;
  recoveryP50Ms: number | null;
  recoveryP99Ms: number | null;
  maxRssMb: Record<string, number>;
  unhandled: string[];
  /**
   * What the consumer processes logged at warn or above, by message, with
   * how often: how warren noticed and handled the fault.
   */
  consumerWarnings: Record<string, number>;
  /** From the last confirmed message handled to empty queues (late copies settled). */
  drainMs: number;
  /**
   * What the environment did to release copies the broker held in a retry
   * tier's dead-letter hop (see {@link HELD_AFTER_MS}); empty when nothing
   * was held.
   */
  heldCopiesReleased: string[];
  durationMs: number;
}

const QUEUE = "work";
/** The work queue's one retry tier. */
const TIER = `${QUEUE}.retry.1s`;

/**
 * How long late copies may take to settle once every confirmed message is
 * handled. Passing runs drain in 1 to 12 s (`drainMs` in the reports). In 2
 * of 12 runs of scenario 3 a retry copy stayed in its quorum tier, held in
 * the broker's dead-letter hop back to the work queue, past 30 s and past
 * 120 s (docs/reliability.md): two minutes tells a slow broker from a
 * stuck one. WARREN_RELIABILITY_DRAIN_MS overrides it.
 */
const DRAIN_MS = Number(process.env.WARREN_RELIABILITY_DRAIN_MS ?? 120_000);

/**
 * A quorum retry tier dead-letters expired copies back to the work queue
 * at least once: it keeps each copy until the work queue has confirmed it.
 * Such a copy counts in the tier's `messages` but is neither ready nor
 * unacked. The hop takes milliseconds; in 2 of 12 runs of scenario 3 on
 * RabbitMQ 3.10.8 a copy stayed held past 120 s after the work queue's
 * leader was stopped, and restarting the RabbitMQ application of the
 * tier's leader released it (docs/reliability.md). A copy held this long
 * is released that way, once per scenario, and the report says so.
 */
const HELD_AFTER_MS = 20_000;

export class Scenario {
  readonly name: string;
  readonly env: ScenarioEnv;
  readonly run = randomBytes(4).toString("hex");
  readonly vhost: string;
  readonly topology: Topology;
  /** The topology as a file would hold it. */
  readonly topologyInput: Record<string, unknown>;
  readonly ledger: string;
  readonly pool: pg.Pool;
  readonly consumers: ConsumerProcess[] = [];
  readonly faults: { at: number; label: string }[] = [];
  readonly started = Date.now();
  readonly #options: Required<ScenarioOptions>;
  #warren: Warren | undefined;
  #publishes: PublishResult[] = [];
  #count = 0;

  private constructor(name: string, env: ScenarioEnv, options: ScenarioOptions) {
    this.name = name;
    this.env = env;
    this.#options = { leaseMs: 5_000, deliveryLimit: 20, ...options };
    this.vhost = `reliability-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}-${this.run}`;
    this.ledger = `ledger_${this.run}`;
    this.topologyInput = {
      vhost: this.vhost,
      queues: {
        [QUEUE]: {
          type: "quorum",
          // Every node holds a replica (3 on the cluster; the broker caps it
          // at the number of nodes).
          initialGroupSize: 3,
          retry: { delays: ["1s"], maxAttempts: 5 },
          deliveryLimit: this.#options.deliveryLimit,
        },
      },
    };
    this.topology = resolveTopology(this.topologyInput);
    this.pool = new pg.Pool({ connectionString: env.databaseUrl, max: 3 });
    this.pool.on("error", () => undefined);
  }

  /** Declares the topology (through every node's URL) and the ledger table. */
  static async start(name: string, env: ScenarioEnv, options: ScenarioOptions = {}) {
    const scenario = new Scenario(name, env, options);
    await applyTopology(compileTopology(scenario.topology), {
      url: env.urls,
      managementUrl: env.managementUrls,
    });
    await scenario.pool.query(
      `CREATE TABLE "${scenario.ledger}" (seq integer NOT NULL, consumer text NOT NULL, pid integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    );
    await scenario.pool.query(`CREATE TABLE "${scenario.ledger}_holds" (seq integer PRIMARY KEY)`);
    return scenario;
  }

  get queue(): string {
    return QUEUE;
  }

  /** The scenario's topology as a JSON file, for the CLI. */
  topologyFile(): string {
    const file = join(tmpdir(), `warren-${this.vhost}.json`);
    writeFileSync(file, JSON.stringify(this.topologyInput));
    return file;
  }

  /** The publishing client (connected on first use, with every node's URL). */
  async publisher(): Promise<Warren> {
    this.#warren ??= await connect({
      url: this.env.urls,
      topology: this.topology,
      serviceName: `${this.name}-publisher`,
      logger: pino({ level: "silent" }),
      heartbeatSeconds: 5,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    return this.#warren;
  }

  /** Starts a consumer process and (unless `wait` is false) waits until it consumes. */
  async startConsumer(
    overrides: Partial<LedgerConsumerConfig> = {},
    wait = true,
  ): Promise<ConsumerProcess> {
    // Each consumer starts on another node: the URL list is rotated.
    const shift = this.consumers.length % this.env.urls.length;
    const consumer = new ConsumerProcess({
      name: `${this.name}-consumer-${this.consumers.length + 1}`,
      urls: [...this.env.urls.slice(shift), ...this.env.urls.slice(0, shift)],
      databaseUrl: this.env.databaseUrl,
      topology: this.topology,
      queue: QUEUE,
      ledger: this.ledger,
      leaseMs: this.#options.leaseMs,
      ...overrides,
    });
    this.consumers.push(consumer);
    if (wait) await consumer.ready();
    return consumer;
  }

  /** Publishes seq `from`..`to` (see publishNumbered). */
  async publish(options: Omit<PublishOptions, "run" | "queue">): Promise<PublishResult> {
    const result = await publishNumbered(await this.publisher(), {
      run: this.run,
      queue: QUEUE,
      ...options,
    });
    this.#publishes.push(result);
    this.#count = Math.max(this.#count, options.to);
    return result;
  }

  /** Runs a fault, time-stamped for the recovery figures. */
  async fault<T>(label: string, inject: () => Promise<T> | T): Promise<T> {
    this.faults.push({ at: Date.now(), label });
    return inject();
  }

  /** Distinct messages in the ledger. */
  async handledCount(): Promise<number> {
    const { rows } = await this.pool.query(
      `SELECT count(DISTINCT seq)::int AS n FROM "${this.ledger}"`,
    );
    return rows[0].n as number;
  }

  /** Waits until `n` distinct messages are in the ledger. */
  async waitHandled(n: number, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const handled = await this.handledCount();
      if (handled >= n) return;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name}: ${handled} of ${n} messages handled after ${timeoutMs} ms; queues: ${await this.#describeLeft()}\n${this.#describeConsumers()}\n${await this.#diagnose()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** A queue's counts as the management API gives them (-1 when it does not say). */
  async #queueCounts(queue: string): Promise<{ messages: number; held: number }> {
    const path = `/api/queues/${encodeURIComponent(this.vhost)}/${encodeURIComponent(queue)}`;
    const response = await this.env.management(path);
    const body = (await response.json()) as ManagementQueue;
    return { messages: body.messages ?? -1, held: heldDeadLetters(body) ?? 0 };
  }

  /**
   * What is left in `work` and its retry tier, for the failure message:
   * each queue's counts, consumers and leader, and the first messages
   * (seq, messageId, attempt, redelivered), read and put back.
   */
  async #describeLeft(): Promise<string> {
    const parts: string[] = [];
    for (const queue of [QUEUE, TIER]) {
      const path = `/api/queues/${encodeURIComponent(this.vhost)}/${encodeURIComponent(queue)}`;
      try {
        const info = (await (await this.env.management(path)).json()) as Record<string, unknown>;
        const peek = await this.env.management(`${path}/get`, {
          method: "POST",
          body: JSON.stringify({ count: 10, ackmode: "reject_requeue_true", encoding: "auto" }),
        });
        const messages = peek.ok
          ? ((await peek.json()) as {
              payload: string;
              redelivered: boolean;
              properties: { message_id?: string; headers?: Record<string, unknown> };
            }[])
          : [];
        // Each consumer's channel and what that channel holds unacked: a
        // queue that counts unacked messages no channel holds points at
        // the broker's books, not at a consumer.
        const channels: string[] = [];
        const details = (info.consumer_details ?? []) as { channel_details?: { name?: string } }[];
        for (const detail of details) {
          const name = detail.channel_details?.name ?? "?";
          const channel = await this.env.management(
            `/api/channels/${encodeURIComponent(name)}?columns=messages_unacknowledged`,
          );
          const unacked = channel.ok
            ? ((await channel.json()) as { messages_unacknowledged?: number })
                .messages_unacknowledged
            : `HTTP ${channel.status}`;
          channels.push(`${name}: ${unacked} unacked`);
        }
        // A failed peek says so, rather than reading as an empty queue.
        const peekFailed = peek.ok ? undefined : `HTTP ${peek.status} ${await peek.text()}`;
        parts.push(
          `${queue}: ${JSON.stringify({
            messages: info.messages,
            ready: info.messages_ready,
            unacked: info.messages_unacknowledged,
            consumers: info.consumers,
            leader: info.leader ?? info.node,
            peekFailed,
            channels,
            peek: messages.map((m) => ({
              body: m.payload.slice(0, 40),
              id: m.properties.message_id,
              attempt: m.properties.headers?.["warren-attempt"],
              deliveries: m.properties.headers?.["x-delivery-count"],
              redelivered: m.redelivered,
            })),
          })}`,
        );
      } catch (error) {
        parts.push(`${queue}: ${(error as Error).message}`);
      }
    }
    return parts.join("; ");
  }

  /** The environment's own account of the vhost and its nodes, if it has one. */
  async #diagnose(): Promise<string> {
    return (await this.env.diagnose?.(this.vhost).catch((error: unknown) => String(error))) ?? "";
  }

  /** Each consumer process's last stats (in flight, lanes subscribed) and its log's tail. */
  #describeConsumers(): string {
    return this.consumers
      .map((c) => {
        const { inFlight, subscribedLanes } = c.stats;
        return `--- ${c.name}: ${JSON.stringify({ inFlight, subscribedLanes })}\n${c.stderr.slice(-2_000)}`;
      })
      .join("\n");
  }

  /**
   * Waits until a running vhost of the scenario is reported on every node
   * (after a restart a node answers AMQP before it has recovered its
   * vhosts, and refuses connections to one still down).
   */
  async waitVhostRunning(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const vhost = (await (
        await this.env.management(`/api/vhosts/${encodeURIComponent(this.vhost)}`)
      ).json()) as { cluster_state?: Record<string, string> };
      const states = Object.values(vhost.cluster_state ?? {});
      if (states.length === this.env.urls.length && states.every((state) => state === "running")) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`vhost not running: ${JSON.stringify(vhost)}\n${await this.#diagnose()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Sequence numbers of the messages in `work.dlq` (left in place). */
  async deadLettered(): Promise<number[]> {
    return (await this.deadLetters()).map((m) => m.seq);
  }

  /** The messages in `work.dlq` (left in place): sequence number and headers. */
  async deadLetters(): Promise<{ seq: number; headers: Record<string, unknown> }[]> {
    const path = `/api/queues/${encodeURIComponent(this.vhost)}/${QUEUE}.dlq/get`;
    const response = await this.env.management(path, {
      method: "POST",
      body: JSON.stringify({ count: 1000, ackmode: "ack_requeue_true", encoding: "auto" }),
      headers: { "content-type": "application/json" },
    });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    const messages = (await response.json()) as {
      payload: string;
      properties: { headers?: Record<string, unknown> };
    }[];
    return messages.map((m) => ({
      seq: (JSON.parse(m.payload) as { seq: number }).seq,
      headers: m.properties.headers ?? {},
    }));
  }

  /**
   * Waits for every confirmed message to be handled or dead-lettered, stops
   * the consumers cleanly, and computes the report.
   */
  async finish(expected: { deadLettered?: number } = {}): Promise<Report> {
    const confirmed = new Set<number>();
    let published = 0;
    for (const result of this.#publishes) {
      published += result.published;
      for (const seq of result.confirmed) confirmed.add(seq);
    }
    const deadLetterCount = expected.deadLettered ?? 0;
    await this.waitHandled(confirmed.size - deadLetterCount, 180_000);
    // Late copies (redeliveries, copies in the 1 s retry tier, in-doubt
    // republishes the guard suppresses) settle: the queues drain to zero.
    // The management API's counts lag up to a statistics interval (1 s)
    // behind, so zero is taken when two readings 1 s apart agree.
    const drainStarted = Date.now();
    const deadline = drainStarted + DRAIN_MS;
    const heldCopiesReleased: string[] = [];
    let heldSince: number | undefined;
    let left = -1;
    let zeros = 0;
    while (Date.now() < deadline && zeros < 2) {
      const work = await this.#queueCounts(QUEUE);
      const tier = await this.#queueCounts(TIER);
      left = work.messages + tier.messages;
      zeros = left === 0 ? zeros + 1 : 0;
      heldSince = tier.held > 0 ? (heldSince ?? Date.now()) : undefined;
      const release = this.env.releaseHeldCopies;
      if (
        heldSince !== undefined &&
        Date.now() - heldSince >= HELD_AFTER_MS &&
        heldCopiesReleased.length === 0 &&
        release !== undefined
      ) {
        const what = await release(this.vhost, TIER);
        heldCopiesReleased.push(
          `${tier.held} held in ${TIER} for ${HELD_AFTER_MS / 1000} s: ${what}`,
        );
      }
      if (zeros < 2) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const drainMs = Date.now() - drainStarted;
    const leftDetail =
      left === 0
        ? ""
        : `${await this.#describeLeft()}\n${this.#describeConsumers()}\n${await this.#diagnose()}`;
    for (const consumer of this.consumers) await consumer.stop();

    const { rows } = await this.pool.query(
      `SELECT seq, extract(epoch FROM at) * 1000 AS ms FROM "${this.ledger}" ORDER BY at`,
    );
    const executions = rows.length;
    const handledSet = new Set(rows.map((r) => r.seq as number));
    const dead = await this.deadLettered();
    const lost = [...confirmed].filter((seq) => !handledSet.has(seq) && !dead.includes(seq));
    const times = rows.map((r) => Number(r.ms));
    const recoveries = this.faults.map((fault) => longestPause(times, fault.at, 60_000));
    const maxRssMb: Record<string, number> = {
      publisher: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    for (const consumer of this.consumers) {
      maxRssMb[consumer.name.replace(`${this.name}-`, "")] = Math.round(
        consumer.stats.maxRssBytes / 1024 / 1024,
      );
    }
    const report: Report = {
      scenario: this.name,
      where: this.env.where,
      published,
      confirmed: confirmed.size,
      handled: handledSet.size,
      lost: lost.length,
      duplicateExecutions: executions - handledSet.size,
      duplicatesSuppressed: this.consumers.reduce((sum, c) => sum + c.stats.duplicates, 0),
      deadLettered: dead.length,
      recoveryP50Ms: percentile(recoveries, 0.5),
      recoveryP99Ms: percentile(recoveries, 0.99),
      maxRssMb,
      unhandled: this.consumers.flatMap((c) => c.unhandled.map((e) => `${c.name}: ${e.message}`)),
      consumerWarnings: countWarnings(this.consumers),
      drainMs,
      heldCopiesReleased,
      durationMs: Date.now() - this.started,
    };
    if (left !== 0) {
      report.unhandled.push(
        `work queue and retry tier still hold ${left} messages after ${DRAIN_MS / 1000} s: ${leftDetail}`,
      );
    }
    saveReport(report);
    return report;
  }

  /** Stops whatever is left, drops the ledger and the vhost. */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.kill()));
    await this.#warren?.close().catch(() => undefined);
    await this.pool
      .query(`DROP TABLE IF EXISTS "${this.ledger}", "${this.ledger}_keys"`)
      .catch(() => undefined);
    await this.pool.end();
    await this.env
      .management(`/api/vhosts/${encodeURIComponent(this.vhost)}`, { method: "DELETE" })
      .catch(() => undefined);
  }
}

/** The consumers' warnings added up by message. */
function countWarnings(consumers: readonly ConsumerProcess[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const consumer of consumers) {
    for (const [message, n] of consumer.warnings) counts[message] = (counts[message] ?? 0) + n;
  }
  return counts;
}

/** Longest gap between handled messages in [from, from + windowMs]. */
function longestPause(times: number[], from: number, windowMs: number): number {
  let previous = from;
  let longest = 0;
  for (const t of times) {
    if (t < from) continue;
    if (t > from + windowMs) break;
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return Math.round(longest);
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

/** Where reports go: $WARREN_RELIABILITY_REPORTS, else $TMPDIR/warren-reliability. */
export const reportDir =
  process.env.WARREN_RELIABILITY_REPORTS ?? join(tmpdir(), "warren-reliability");

function saveReport(report: Report): void {
  mkdirSync(reportDir, { recursive: true });
  const file = join(reportDir, `${report.scenario}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`[reliability] ${JSON.stringify(report)}`);
}
