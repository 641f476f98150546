import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import type { PublishError } from "../../../src/errors.ts";
import {
  connectionsNamed,
  createVhost,
  drainIds,
  killConnectionsByName,
  logger,
  randomName,
  sleep,
  type TestVhost,
} from "./support.ts";

const TIMEOUT_MS = 5_000;

describe("publisher whose connection is killed mid-stream", () => {
  let vhost: TestVhost;
  let warren: Warren;
  let serviceName: string;

  beforeEach(async () => {
    vhost = await createVhost();
    serviceName = randomName("kill-test");
    warren = await connect({
      url: vhost.url,
      serviceName,
      logger,
      backoff: { initialDelayMs: 50, maxDelayMs: 500 },
      publisher: { timeoutMs: TIMEOUT_MS },
    });
  });

  afterEach(async () => {
    await warren.close();
    await vhost.close();
  });

  it("settles every publish within its timeout across 5 kills, and every resolved one is in the queue", async () => {
    const queue = randomName("q");
    await vhost.channel.assertQueue(queue, { durable: true });
    const connectionName = `${serviceName} (publisher)`;

    let stop = false;
    let started = 0;
    const resolved = new Set<string>();
    const failures = new Map<string, number>();
    const lateSettles: number[] = [];

    const producer = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const messageId = `w${worker}-${i}`;
        const begun = Date.now();
        started++;
        try {
          await warren.publish(queue, { worker, i }, { messageId, exchange: "" });
          resolved.add(messageId);
          await sleep(10);
        } catch (error) {
          const { code, inDoubt } = error as PublishError;
          failures.set(`${code}/${inDoubt}`, (failures.get(`${code}/${inDoubt}`) ?? 0) + 1);
          await sleep(5);
        }
        // Settling may lag its timer by a little under load, never by much.
        if (Date.now() - begun > TIMEOUT_MS + 1_000) lateSettles.push(Date.now() - begun);
      }
    };
    const producers = Array.from({ length: 20 }, (_, worker) => producer(worker));

    // The management API lists a killed connection for a moment after it is
    // gone, so each round waits for a connection it has not killed yet.
    const killed = new Set<string>();
    for (let kill = 0; kill < 5; kill++) {
      let fresh: string[] = [];
      for (let tries = 0; fresh.length === 0; tries++) {
        if (tries > 100) throw new Error(`a new ${connectionName} never showed up`);
        await sleep(100);
        fresh = (await connectionsNamed(connectionName)).filter((name) => !killed.has(name));
      }
      await sleep(300); // let traffic flow on it
      await killConnectionsByName(fresh);
      for (const name of fresh) killed.add(name);
    }
    expect(killed.size).toBeGreaterThanOrEqual(5);
    await sleep(1_000);
    stop = true;
    await Promise.all(producers);

    expect(lateSettles).toEqual([]);
    expect(resolved.size).toBeGreaterThan(0);
    const inQueue = await drainIds(vhost.channel, queue);
    const missing = [...resolved].filter((id) => !inQueue.has(id));
    expect(missing).toEqual([]);
    // Only in-doubt losses and not-yet-sent failures are allowed.
    for (const key of failures.keys()) {
      expect([
        "WARREN_PUBLISH_CONNECTION_LOST/true",
        "WARREN_PUBLISH_NOT_CONNECTED/false",
        "WARREN_PUBLISH_TIMEOUT/true",
      ]).toContain(key);
    }
    logger.info({ started, resolved: resolved.size, failures: Object.fromEntries(failures) });
    // The client recovered: a publish after the storm succeeds.
    await warren.publish(queue, { after: true }, { exchange: "" });
  });
});
