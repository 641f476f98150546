/**
 * End-to-end: the consumer runtime with an idempotency guard, a real broker
 * and a real PostgreSQL. Crash cases run the consumer in child processes
 * (worker.ts) and kill them with SIGKILL.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { resolveIdempotencyGuard } from "../../../src/consumer/idempotency.ts";
import { createMemoryIdempotencyStore } from "../../../src/idempotency/memory-store.ts";
import type { IdempotencyGuard } from "../../../src/idempotency/types.ts";
import { createHarness, type Harness, waitFor, workTopology } from "../consumer/harness.ts";
import { databaseUrl, newPool, withTable } from "./postgres.ts";
import { startWorker, type Worker, type WorkerEvent } from "./processes.ts";
import type { WorkerConfig } from "./worker.ts";

describe("idempotent consumer, end to end", () => {
  const pool = newPool();
  let h: Harness;
  let table: string;
  let drop: () => Promise<void>;
  let workers: Worker[] = [];

  beforeAll(async () => {
    h = await createHarness(workTopology);
  });
  afterAll(async () => {
    await h.close();
    await pool.end();
  });
  afterEach(async () => {
    await Promise.all(workers.map((worker) => worker.stop("SIGKILL")));
    workers = [];
    await drop?.();
  });

  async function freshTable() {
    ({ table, drop } = await withTable(pool));
  }

  async function worker(name: string, overrides: Partial<WorkerConfig> = {}): Promise<Worker> {
    const started = await startWorker({
      name,
      url: h.url,
      databaseUrl: databaseUrl(),
      topology: workTopology(h.vhost),
      table,
      guard: "postgres",
      leaseMs: 2_000,
      ...overrides,
    });
    workers.push(started);
    return started;
  }

  const count = async (suffix: "runs" | "effects", key?: string) =>
    Number(
      (
        await pool.query(
          `SELECT count(*) FROM "${table}_${suffix}"${key === undefined ? "" : " WHERE key = $1"}`,
          key === undefined ? [] : [key],
        )
      ).rows[0].count,
    );
  const outcomes = (events: WorkerEvent[], status: string) =>
    events.filter((e) => e.event === "outcome" && e.status === status).length;
  const allEvents = () => workers.flatMap((w) => w.events);
  const publish = (messageId: string) =>
    h.publish("events", "job.run", { id: messageId }, { messageId });

  it("runs the handler once for a messageId published three times", async () => {
    const store = createMemoryIdempotencyStore();
    const policy = h.topology.retryPolicies.work!;
    const inner = resolveIdempotencyGuard({ store }, { policy, timeoutMs: 30_000 });
    const seen: string[] = [];
    const guard: IdempotencyGuard<unknown> = {
      run: async (key, work) => {
        const outcome = await inner.run(key, work);
        seen.push(outcome.status);
        return outcome;
      },
    };
    let calls = 0;
    const consumer = await h.consume(
      "work",
      async () => {
        calls++;
      },
      { idempotency: { guard } },
    );
    const id = randomUUID();
    for (let i = 0; i < 3; i++) await publish(id);
    await waitFor(() => seen.length === 3, 10_000, "three guarded deliveries");
    expect(calls).toBe(1);
    expect(seen).toEqual(["completed", "duplicate", "duplicate"]);
    expect(await h.depth("work")).toBe(0);
    await consumer.close();
  });

  it("dead-letters a message without messageId instead of running it unguarded", async () => {
    let calls = 0;
    const consumer = await h.consume(
      "work",
      async () => {
        calls++;
      },
      { idempotency: { store: createMemoryIdempotencyStore() } },
    );
    // Another client's message: no messageId, so no key for the guard.
    h.channel.sendToQueue("work", Buffer.from(JSON.stringify({ id: "no-key" })), {
      contentType: "application/json",
    });
    await h.channel.waitForConfirms();
    const [dead] = await h.collect("work.dlq", 1);
    expect(calls).toBe(0);
    expect(dead!.properties.headers?.["warren-reason"]).toBe("non-retryable");
    expect(String(dead!.properties.headers?.["warren-error-message"])).toContain(
      "WARREN_IDEMPOTENCY_KEY_MISSING",
    );
    await consumer.close();
  });

  it("runs each message once when two consumer processes get copies of it at the same time", async () => {
    await freshTable();
    await Promise.all([worker("a", { handlerDelayMs: 100 }), worker("b", { handlerDelayMs: 100 })]);
    const ids = Array.from({ length: 20 }, () => randomUUID());
    for (const id of ids) {
      await publish(id);
      await publish(id);
    }
    await waitFor(
      () => outcomes(allEvents(), "completed") === 20 && outcomes(allEvents(), "duplicate") === 20,
      30_000,
      "20 completed and 20 duplicates",
    );
    expect(await count("runs")).toBe(20);
    expect(await count("effects")).toBe(20);
    // The copies really met: some were turned away while the other process held the key.
    expect(outcomes(allEvents(), "in-progress")).toBeGreaterThan(0);
  });

  it("runs a message once more, after the lease expires, when its holder is SIGKILLed mid-handler", async () => {
    await freshTable();
    // Long enough that the lease is still held when the taker (started after
    // the holder took the message) gets the redelivery, even on a busy
    // machine where a worker process takes seconds to start.
    const leaseMs = 6_000;
    const holder = await worker("holder", { crash: "hang", leaseMs });
    const id = randomUUID();
    await publish(id);
    await holder.next((e) => e.event === "start" && e.key === id);
    const taker = await worker("taker", { leaseMs });
    await holder.stop("SIGKILL");
    await taker.next((e) => e.event === "outcome" && e.status === "completed" && e.key === id);

    const { rows } = await pool.query(
      `SELECT worker, started_at FROM "${table}_runs" WHERE key = $1 ORDER BY started_at`,
      [id],
    );
    expect(rows.map((r) => r.worker)).toEqual(["holder", "taker"]);
    const gapMs = rows[1].started_at.getTime() - rows[0].started_at.getTime();
    expect(gapMs).toBeGreaterThanOrEqual(leaseMs - 50); // DB clock, 1 ms resolution
    expect(await count("effects", id)).toBe(1);
    expect(outcomes(taker.events, "in-progress")).toBeGreaterThan(0);

    await publish(id);
    await taker.next((e) => e.event === "outcome" && e.status === "duplicate" && e.key === id);
    expect(await count("runs", id)).toBe(2);
  });

  it("refuses the late complete of a stalled holder and rolls back its writes (transactional)", async () => {
    await freshTable();
    const leaseMs = 1_000;
    const holder = await worker("stalled", {
      guard: "transactional",
      leaseMs,
      firstHandlerDelayMs: 2_500,
    });
    const id = randomUUID();
    await publish(id);
    await holder.next((e) => e.event === "start" && e.key === id);
    const taker = await worker("taker", { guard: "transactional", leaseMs });
    await publish(id); // a copy, while the holder is still busy with the first
    await taker.next((e) => e.event === "outcome" && e.status === "completed" && e.key === id);
    await holder
      .next((e) => e.event === "error" && e.key === id, 10_000)
      .then((e) => expect(e.code).toBe("WARREN_IDEMPOTENCY_LEASE_LOST"));
    // The holder's message took the retry path and came back (to either
    // process) as a duplicate.
    await waitFor(
      () => allEvents().some((e) => e.status === "duplicate" && e.key === id),
      10_000,
      "the retried copy acked as a duplicate",
    );
    expect(await count("runs", id)).toBe(2);
    const effects = await pool.query(`SELECT worker FROM "${table}_effects" WHERE key = $1`, [id]);
    expect(effects.rows).toEqual([{ worker: "taker" }]);
  });

  it("acks the redelivery as a duplicate when a transactional consumer dies between commit and ack", async () => {
    await freshTable();
    const doomed = await worker("doomed", { guard: "transactional", crash: "exit-after-commit" });
    const id = randomUUID();
    await publish(id);
    await doomed.exited;
    expect(await count("effects", id)).toBe(1);

    const survivor = await worker("survivor", { guard: "transactional" });
    await survivor.next((e) => e.event === "outcome" && e.key === id);
    expect(outcomes(survivor.events, "duplicate")).toBe(1);
    expect(outcomes(survivor.events, "completed")).toBe(0);
    expect(await count("effects", id)).toBe(1);
    await waitFor(async () => (await h.depth("work")) === 0, 5_000, "an empty work queue");
  });

  it("writes exactly 10,000 ledger rows for 10,000 messages with 10% duplicates across two processes", async () => {
    await freshTable();
    const settings = { guard: "transactional", concurrency: 4, leaseMs: 30_000 } as const;
    await Promise.all([worker("ledger-a", settings), worker("ledger-b", settings)]);
    const ids = Array.from({ length: 10_000 }, () => randomUUID());
    const started = performance.now();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const body = Buffer.from(JSON.stringify({ id }));
      h.channel.publish("events", "job.ledger", body, { persistent: true, messageId: id });
      // Every tenth message is sent twice: half right after it (copies that
      // meet in flight), half a little later.
      if (i % 10 === 0) {
        const copyOf = i % 20 === 0 ? id : ids[Math.max(0, i - 5)]!;
        h.channel.publish("events", "job.ledger", Buffer.from(JSON.stringify({ id: copyOf })), {
          persistent: true,
          messageId: copyOf,
        });
      }
      if (i % 500 === 499) await h.channel.waitForConfirms();
    }
    await h.channel.waitForConfirms();
    // A copy may be seen more than once (an in-progress copy waits in the
    // retry tier, a redelivery after a lost ack): duplicates are at least
    // 1,000, and what must be exact is the number of runs and of rows.
    const tally = () => ({
      completed: outcomes(allEvents(), "completed"),
      duplicate: outcomes(allEvents(), "duplicate"),
    });
    try {
      await waitFor(
        () => tally().completed >= 10_000 && tally().duplicate >= 1_000,
        90_000,
        "10,000 completed and at least 1,000 duplicates",
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; seen: ${JSON.stringify(tally())}`);
    }
    const seconds = (performance.now() - started) / 1000;
    expect(tally().completed).toBe(10_000);
    expect(await count("effects")).toBe(10_000);
    const distinct = await pool.query(`SELECT count(DISTINCT key) FROM "${table}_effects"`);
    expect(Number(distinct.rows[0].count)).toBe(10_000);
    const perWorker = new Set(
      allEvents()
        .filter((e) => e.status === "completed")
        .map((e) => e.worker),
    );
    expect(perWorker.size).toBe(2);
    console.info(`ledger: 11,000 deliveries in ${seconds.toFixed(1)} s`);
  }, 120_000);
});
