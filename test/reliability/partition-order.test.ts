/**
 * Per-key order on a partitioned queue with several consumer processes
 * (docs/consuming.md#partitioned-queues): 3 real child processes consume a
 * queue of 4 partitions while 20 keys × 200 events are published. Every
 * key's events are handled once each, in order, never by two processes at
 * once, and the partitions spread so that every process handles some.
 * With `ordering: "hold"` a message whose first attempt fails is retried in
 * place, and no later event of its key overtakes it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "../../src/client.ts";
import type { ConsumeOrdering } from "../../src/consumer/options.ts";
import { applyTopology } from "../../src/topology/apply.ts";
import { compileTopology } from "../../src/topology/compile.ts";
import { resolveTopology } from "../../src/topology/load.ts";
import { brokerUrls, brokerUser, managementClient, vhostUrl } from "../support/broker.ts";
import { randomName } from "../support/names.ts";
import type { PartitionConsumerConfig } from "./fixtures/partition-consumer.ts";

const fixture = fileURLToPath(new URL("./fixtures/partition-consumer.ts", import.meta.url));

interface Handled {
  p: string;
  k: string;
  s: number;
  q: string;
  a: number;
  ok: boolean;
  start: number;
  end: number;
}

const KEYS = 20;
const EVENTS = 200;

function topologyFor(vhost: string) {
  return {
    vhost,
    exchanges: { orders: { type: "topic" } },
    queues: {
      "orders.events": {
        partitions: 4,
        bindings: [{ exchange: "orders", routingKey: "order.#" }],
        retry: { delays: ["200ms"], maxAttempts: 3 },
      },
    },
  };
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Starts one consumer process; resolves once it is subscribed. */
function startConsumer(config: PartitionConsumerConfig, handled: Handled[]): Promise<void> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, PARTITION_CONSUMER: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    if (process.env.WARREN_TEST_LOG_LEVEL !== undefined) process.stderr.write(chunk);
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "") continue;
        const event = JSON.parse(line) as { e: string } & Handled;
        if (event.e === "ready") resolve();
        else if (event.e === "handled") handled.push(event);
      }
    });
    child.once("exit", (code) => reject(new Error(`${config.name} exited (${code}): ${stderr}`)));
  });
}

async function run(ordering: ConsumeOrdering, failFirstAttempt: string[] = []) {
  const client = managementClient();
  const vhost = randomName("warren-partition-order");
  await client.createVhost(vhost);
  await client.setPermissions(vhost, brokerUser(), { configure: ".*", write: ".*", read: ".*" });
  cleanups.push(() => client.deleteVhost(vhost));
  const url = vhostUrl(vhost);
  const input = topologyFor(vhost);
  const topology = compileTopology(resolveTopology(input));
  await applyTopology(topology, { url, managementUrl: brokerUrls().managementUrl });

  const handled: Handled[] = [];
  const names = ["consumer-a", "consumer-b", "consumer-c"];
  // One after another, as a deploy would start them.
  for (const name of names) {
    await startConsumer(
      {
        name,
        url,
        topology: input,
        queue: "orders.events",
        ordering,
        handlerDelayMs: 10,
        failFirstAttempt,
      },
      handled,
    );
  }

  const publisher = await connect({ url, topology, publishExchange: "orders" });
  cleanups.unshift(() => publisher.close());
  for (let seq = 0; seq < EVENTS; seq++) {
    await Promise.all(
      Array.from({ length: KEYS }, (_, k) => publisher.publish(`order.k${k}`, { seq })),
    );
  }
  const expected = KEYS * EVENTS + failFirstAttempt.length;
  const deadline = Date.now() + 120_000;
  while (handled.length < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(handled.length).toBe(expected);
  return { handled, names };
}

/** Checks that each key's successful events ran once each, in order, one at a time. */
function expectPerKeyOrder(handled: Handled[]) {
  const byKey = new Map<string, Handled[]>();
  for (const event of handled) byKey.set(event.k, [...(byKey.get(event.k) ?? []), event]);
  expect(byKey.size).toBe(KEYS);
  for (const [key, events] of byKey) {
    // In the order the handlers started; a key is never in two handlers at once.
    const ordered = [...events].sort((a, b) => a.start - b.start || a.s - b.s);
    const successes = ordered.filter((e) => e.ok).map((e) => e.s);
    expect(successes, key).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    for (let i = 1; i < ordered.length; i++) {
      expect(ordered[i]!.start, `${key} event ${ordered[i]!.s}`).toBeGreaterThanOrEqual(
        ordered[i - 1]!.end,
      );
    }
    expect(new Set(events.map((e) => e.q)).size, `${key} stays in one partition`).toBe(1);
  }
}

describe("per-key order on a partitioned queue with 3 consumer processes", () => {
  it("handles 20 keys × 200 events in order per key, spread over all 3 processes", async () => {
    const { handled, names } = await run("overtake");
    expectPerKeyOrder(handled);
    const perProcess = names.map((name) => handled.filter((e) => e.p === name).length);
    console.log(`events per process: ${perProcess.join(", ")}`);
    for (const count of perProcess) expect(count).toBeGreaterThan(0);
  });

  it("with ordering: hold, retries a failing event in place and lets nothing of its key overtake it", async () => {
    const failing = "order.k7:50";
    const { handled } = await run("hold", [failing]);
    expectPerKeyOrder(handled);
    const key = handled
      .filter((e) => e.k === "order.k7")
      .sort((a, b) => a.start - b.start)
      .map((e) => `${e.s}@${e.a}`);
    const at = key.indexOf("50@1");
    expect(key.slice(at - 1, at + 3)).toEqual(["49@1", "50@1", "50@2", "51@1"]);
  });
});
