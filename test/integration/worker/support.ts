/**
 * `warren worker` as a container runs it, for the worker tests: a fresh
 * vhost with a `work` queue, the real CLI started as a child process with a
 * worker module from fixtures/, its JSON log lines, and the module's ledger
 * of handled messageIds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { expect } from "vitest";
import { drain } from "../../support/queues.ts";
import { waitFor } from "../consumer/harness.ts";
import { freshTopology } from "../dlq/helpers.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Run after each test, last registered first. */
export const cleanups: (() => Promise<void>)[] = [];

export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export interface Setup {
  url: string;
  /** The topology file the worker is started with. */
  file: string;
  /** A temp dir for the ledger and other files of the test. */
  dir: string;
  /** messageIds published before the worker starts. */
  ids: string[];
}

export interface Started {
  child: ChildProcess;
  healthUrl: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  ledger: string;
}

/** A fresh vhost with a `work` queue (one 1 s tier, 2 attempts) holding `count` messages. */
export async function setup(count: number): Promise<Setup> {
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
  const ids = Array.from({ length: count }, (_, i) => `m-${i}`);
  await publishWork(topology.url, ids);
  return { url: topology.url, file, dir, ids };
}

/** Publishes one message per id to `work`, confirmed. */
export async function publishWork(url: string, ids: string[]): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    for (const id of ids) {
      channel.sendToQueue("work", Buffer.from(JSON.stringify({ n: id })), {
        messageId: id,
        persistent: true,
      });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

/**
 * Starts `warren worker <fixture>` (a file of test/integration/worker/fixtures)
 * on a free health port and waits for its "worker started" line.
 */
export async function startWorker(
  { url, file, dir }: Setup,
  options: { fixture?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<Started> {
  const fixture = `test/integration/worker/fixtures/${options.fixture ?? "ledger-worker.ts"}`;
  const ledger = join(dir, "ledger.txt");
  await writeFile(ledger, "");
  const child = spawn(
    process.execPath,
    [
      "src/cli/run.ts",
      "worker",
      fixture,
      "--topology",
      file,
      "--health-port",
      "0",
      ...(options.args ?? []),
    ],
    {
      cwd: root,
      env: { ...process.env, RABBITMQ_URL: url, WORKER_LEDGER: ledger, ...options.env },
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
    // Generous: a child that compiles its TypeScript on a busy machine.
    60_000,
    () => `worker started (stderr: ${stderr})`,
  );
  return { child, healthUrl: String(started.health), logs, exited, ledger };
}

/** The messageIds the worker module wrote to its ledger. */
export async function handled(ledger: string): Promise<string[]> {
  return (await readFile(ledger, "utf8")).split("\n").filter((line) => line !== "");
}

/** Takes every message left in `queue` (default `work`) and returns their messageIds. */
export async function remaining(url: string, queue = "work"): Promise<string[]> {
  return (await drain(url, queue)).map((message) => String(message.properties.messageId));
}

/** Every id handled exactly once or still queued, never both, never lost. */
export function expectAccounted(ids: string[], done: string[], queued: string[]): void {
  expect(new Set(done).size, "no message handled twice").toBe(done.length);
  expect(
    done.filter((id) => queued.includes(id)),
    "handled and still queued",
  ).toEqual([]);
  expect([...done, ...queued].sort()).toEqual([...ids].sort());
}
