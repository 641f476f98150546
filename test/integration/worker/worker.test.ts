/**
 * `warren worker` as a container runs it: a child process started from the
 * CLI with a worker module, health and metrics on a port, and SIGTERM in
 * the middle of a backlog. Every message must end either handled exactly
 * once (in the module's ledger) or still in its queue.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../consumer/harness.ts";
import { freshTopology } from "../dlq/helpers.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = "test/integration/worker/fixtures/ledger-worker.ts";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Started {
  child: ChildProcess;
  healthUrl: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  ledger: string;
}

async function setup(count: number) {
  const queues = { work: { retry: { delays: ["1s"], maxAttempts: 2 } } };
  const topology = await freshTopology(queues);
  cleanups.push(topology.remove);
  const dir = await mkdtemp(join(tmpdir(), "warren-worker-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "topology.json");
  await writeFile(
    file,
    JSON.stringify({ vhost: topology.vhost, exchanges: { orders: { type: "topic" } }, queues }),
  );
  const connection = await amqp.connect(topology.url);
  const channel = await connection.createConfirmChannel();
  const ids = Array.from({ length: count }, (_, i) => `m-${i}`);
  for (const id of ids) {
    channel.sendToQueue("work", Buffer.from(JSON.stringify({ n: id })), {
      messageId: id,
      persistent: true,
    });
  }
  await channel.waitForConfirms();
  await connection.close();
  return { url: topology.url, file, dir, ids };
}

async function startWorker(
  url: string,
  file: string,
  dir: string,
  args: string[],
  delayMs: number,
): Promise<Started> {
  const ledger = join(dir, "ledger.txt");
  await writeFile(ledger, "");
  const child = spawn(
    process.execPath,
    ["src/cli/run.ts", "worker", fixture, "--topology", file, "--health-port", "0", ...args],
    {
      cwd: root,
      env: {
        ...process.env,
        RABBITMQ_URL: url,
        WORKER_LEDGER: ledger,
        WORKER_DELAY_MS: String(delayMs),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("{")) logs.push(JSON.parse(line));
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const started = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${stderr}`);
      return logs.find((line) => line.msg === "worker started");
    },
    30_000,
    "worker started",
  );
  return { child, healthUrl: String(started.health), logs, exited, ledger };
}

async function handled(ledger: string): Promise<string[]> {
  return (await readFile(ledger, "utf8")).split("\n").filter((line) => line !== "");
}

async function remaining(url: string): Promise<string[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const ids: string[] = [];
    for (;;) {
      const message = await channel.get("work", { noAck: true });
      if (message === false) return ids;
      ids.push(String(message.properties.messageId));
    }
  } finally {
    await connection.close();
  }
}

/** Every id handled exactly once or still queued, never both, never lost. */
function expectAccounted(ids: string[], done: string[], queued: string[]) {
  expect(new Set(done).size, "no message handled twice").toBe(done.length);
  expect(
    done.filter((id) => queued.includes(id)),
    "handled and still queued",
  ).toEqual([]);
  expect([...done, ...queued].sort()).toEqual([...ids].sort());
}

describe("warren worker", () => {
  it("serves health and metrics, drains on SIGTERM mid-load and exits 0; every message handled once or still queued", async () => {
    const { url, file, dir, ids } = await setup(300);
    const worker = await startWorker(url, file, dir, ["--concurrency", "4"], 50);

    expect((await fetch(`${worker.healthUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${worker.healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: unknown }).checks).toEqual([
      { name: "publisher", ready: true },
      { name: "consumer:work", ready: true },
    ]);
    const metrics = await (await fetch(`${worker.healthUrl}/metrics`)).text();
    expect(metrics).toContain('warren_consumers{queue="work"} 4');

    await waitFor(async () => (await handled(worker.ledger)).length >= 40, 30_000, "40 handled");
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(worker.logs.map((line) => line.msg)).toContain("drained: exiting");

    const done = await handled(worker.ledger);
    const queued = await remaining(url);
    expect(done.length).toBeGreaterThanOrEqual(40);
    expect(queued.length, "SIGTERM came mid-load").toBeGreaterThan(0);
    expectAccounted(ids, done, queued);
  });

  it("exits 2 when handlers outlive the drain deadline; their messages go back to the queue", async () => {
    const { url, file, dir, ids } = await setup(10);
    const worker = await startWorker(
      url,
      file,
      dir,
      ["--concurrency", "2", "--drain-timeout-ms", "300"],
      3_000,
    );
    await waitFor(
      async () => {
        const text = await (await fetch(`${worker.healthUrl}/metrics`)).text();
        return /warren_handlers_in_flight\{queue="work"\} 2/.test(text);
      },
      10_000,
      "2 handlers running",
    );
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(2);
    const queued = await remaining(url);
    expectAccounted(ids, await handled(worker.ledger), queued);
    expect(queued.length).toBe(10);
  });
});
