/**
 * The `backoff` option of connect() is the one backoff of the client: it
 * paces the publisher's channel reopen and the consumer lanes' re-subscribe
 * as well as the reconnects. Faults are real (a publish to a missing
 * exchange closes the channel; the management API deletes the queue or
 * kills the connection); the delays are read from the clock and from the
 * client's own log records.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { connect } from "../../../src/client.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { management, type Vhost, withVhost } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";

/** A slow, jitter-bounded backoff: every delay falls in [1500, 3000] ms. */
const SLOW = { initialDelayMs: 3_000, maxDelayMs: 3_000, multiplier: 1 } as const;
const SLOW_MIN_MS = 1_500;

interface LogRecord {
  msg: string;
  retryInMs?: number;
  lane?: number;
}

/** A debug-level logger that keeps its records. */
function recordingLogger() {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) {
        if (line !== "") records.push(JSON.parse(line) as LogRecord);
      }
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), records };
}

function topologyFor(vhost: Vhost, queue: string) {
  return compileTopology(
    resolveTopology({ vhost: vhost.name, queues: { [queue]: { type: "classic" } } }),
  );
}

/** The broker names of the connections called `displayName`; waits until it lists one. */
async function consumerConnections(vhost: Vhost, displayName: string): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await management<
      { name: string; client_properties?: { connection_name?: string } }[]
    >(`/api/vhosts/${encodeURIComponent(vhost.name)}/connections`);
    const names = rows
      .filter((row) => row.client_properties?.connection_name === displayName)
      .map((row) => row.name);
    if (names.length > 0) return names;
    if (Date.now() > deadline) throw new Error(`connection "${displayName}" never listed`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Publishes to a missing exchange (the broker closes the channel), then times the next publish. */
async function reopenDelayMs(url: string, queue: string, backoff?: typeof SLOW) {
  const { logger, records } = recordingLogger();
  const warren = await connect({ url, logger, ...(backoff === undefined ? {} : { backoff }) });
  try {
    await warren.publish(queue, { n: 1 });
    await expect(
      warren.publish("x", { n: 2 }, { exchange: randomName("missing") }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^WARREN_PUBLISH_/) });
    const lostAt = performance.now();
    await warren.publish(queue, { n: 3 });
    const delayMs = performance.now() - lostAt;
    const reopens = records.filter((r) => r.msg === "publish channel: reopening");
    return { delayMs, reopens };
  } finally {
    await warren.close();
  }
}

describe("the backoff option of connect()", () => {
  it("paces the publisher's channel reopen after the broker closed the channel", async () => {
    await withVhost(async (vhost) => {
      const queue = randomName("q");
      await applyTopology(topologyFor(vhost, queue), {
        url: vhost.url,
        managementUrl: vhost.managementUrl,
      });

      const slow = await reopenDelayMs(vhost.url, queue, SLOW);
      expect(slow.delayMs).toBeGreaterThanOrEqual(SLOW_MIN_MS - 50);
      expect(slow.reopens.length).toBeGreaterThanOrEqual(1);
      for (const record of slow.reopens) {
        expect(record.retryInMs).toBeGreaterThanOrEqual(SLOW_MIN_MS);
        expect(record.retryInMs).toBeLessThanOrEqual(SLOW.maxDelayMs);
      }

      // The defaults (100 ms first step) reopen well inside that.
      const fast = await reopenDelayMs(vhost.url, queue);
      for (const record of fast.reopens) expect(record.retryInMs).toBeLessThanOrEqual(100);
      expect(fast.delayMs).toBeLessThan(SLOW_MIN_MS);
    });
  });

  it("paces the consumer lanes' re-subscribe after the queue was deleted, and their reconnect after a kill", async () => {
    await withVhost(async (vhost) => {
      const queue = randomName("work");
      const topology = topologyFor(vhost, queue);
      const endpoint = { url: vhost.url, managementUrl: vhost.managementUrl };
      await applyTopology(topology, endpoint);
      const { logger, records } = recordingLogger();
      const serviceName = randomName("backoff-test");
      const warren = await connect({
        url: vhost.url,
        topology,
        logger,
        serviceName,
        backoff: SLOW,
      });
      try {
        const consumer = await warren.consume(queue, () => {}, { concurrency: 2 });
        const subscribedAt: number[] = [];
        consumer.on("subscribed", () => subscribedAt.push(performance.now()));

        // The queue goes away: each lane is cancelled and waits a backoff step
        // before it subscribes again; the queue is back long before that.
        const path = `/api/queues/${encodeURIComponent(vhost.name)}/${encodeURIComponent(queue)}`;
        await management(path, { method: "DELETE" });
        const deletedAt = performance.now();
        await applyTopology(topology, endpoint);
        await waitFor(() => subscribedAt.length >= 2, 20_000, "both lanes to subscribe again");
        for (const at of subscribedAt) {
          expect(at - deletedAt).toBeGreaterThanOrEqual(SLOW_MIN_MS - 50);
        }
        const laneWaits = records.filter(
          (r) => r.msg === "consumer channel (re-subscribing): reopening",
        );
        expect(new Set(laneWaits.map((r) => r.lane))).toEqual(new Set([0, 1]));
        for (const record of laneWaits) {
          expect(record.retryInMs).toBeGreaterThanOrEqual(SLOW_MIN_MS);
          expect(record.retryInMs).toBeLessThanOrEqual(SLOW.maxDelayMs);
        }

        // The connection is killed: the reconnect waits a step, then the lanes
        // subscribe at once on the new connection.
        subscribedAt.length = 0;
        const names = await consumerConnections(vhost, `${serviceName} (consumer)`);
        for (const name of names) {
          await management(`/api/connections/${encodeURIComponent(name)}`, { method: "DELETE" });
        }
        const killedAt = performance.now();
        await waitFor(() => subscribedAt.length >= 2, 20_000, "both lanes on the new connection");
        for (const at of subscribedAt) {
          expect(at - killedAt).toBeGreaterThanOrEqual(SLOW_MIN_MS - 50);
        }
        expect(consumer.consuming).toBe(true);
      } finally {
        await warren.close();
      }
    });
  });
});
