/**
 * Starts and stops worker.ts processes and follows what they report.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WorkerConfig } from "./worker.ts";

const workerPath = fileURLToPath(new URL("./worker.ts", import.meta.url));

export interface WorkerEvent {
  worker: string;
  event: "ready" | "start" | "outcome" | "error";
  key?: string;
  status?: string;
  code?: string;
}

export interface Worker {
  child: ChildProcess;
  events: WorkerEvent[];
  /** Resolves with the first event matching `match` (past or future). */
  next(match: (event: WorkerEvent) => boolean, timeoutMs?: number): Promise<WorkerEvent>;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorker(config: WorkerConfig): Promise<Worker> {
  const child = spawn(process.execPath, [workerPath], {
    env: { ...process.env, WORKER_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: WorkerEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  let buffered = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") events.push(JSON.parse(line) as WorkerEvent);
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      for (const wake of waiters) wake();
      resolve(code);
    });
  });
  const worker: Worker = {
    child,
    events,
    exited,
    next(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(
              new Error(
                `worker ${config.name} exited (${child.exitCode ?? child.signalCode}): ${stderr}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `worker ${config.name}: no matching event in ${timeoutMs} ms; events ${JSON.stringify(events)}; ${stderr}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  await worker.next((event) => event.event === "ready", 30_000);
  return worker;
}
