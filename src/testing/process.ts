/**
 * A server process started for tests (a RabbitMQ node, a PostgreSQL
 * postmaster) in its own process group, with its output in a log file.
 *
 * Servers fork helpers (Erlang's `erl_child_setup`, Postgres' backends), so
 * stopping signals the whole group, waits for it to empty, and escalates to
 * SIGKILL after a deadline: a test run must not leave an orphaned `beam.smp`
 * holding ports. If the Node process exits without calling `stop()` (a
 * crashed test runner), an `exit` hook kills the group and removes the
 * temp dir as a last resort. No signal handlers are installed.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";

/** How to start a server process. */
export interface ServerProcessOptions {
  /** Executable path. */
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** File that receives the process's stdout and stderr. */
  logFile: string;
  /** Run as this user and group (only when the caller is root). */
  uid?: number;
  gid?: number;
}

/** A running server process group. */
export interface ServerProcess {
  readonly pid: number;
  /** Set once the direct child has exited, e.g. `"exit code 1"`. */
  readonly exitReason: string | undefined;
  /** Resolves when the direct child has exited. */
  readonly exited: Promise<void>;
  /**
   * Sends `signal` to the whole group, waits up to `timeoutMs` for every
   * process in it to go, then SIGKILLs what is left.
   */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<void>;
}

const cleanups = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Registers a synchronous last-resort cleanup run when Node exits; returns a
 * function that unregisters it (call it once the normal stop has run).
 */
export function onProcessExit(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const fn of cleanups) {
        try {
          fn();
        } catch {
          // Best effort: the process is exiting anyway.
        }
      }
    });
  }
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Starts `options.command` detached, in a new process group led by the child. */
export function startServerProcess(options: ServerProcessOptions): ServerProcess {
  const logFd = openSync(options.logFile, "a");
  let exitReason: string | undefined;
  let resolveExited!: () => void;
  const exited = new Promise<void>((resolve) => {
    resolveExited = resolve;
  });
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ["ignore", logFd, logFd],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  closeSync(logFd);
  child.once("error", (error) => {
    exitReason = `could not start ${options.command}: ${error.message}`;
    resolveExited();
  });
  child.once("exit", (code, signal) => {
    exitReason = signal === null ? `exit code ${code}` : `killed by ${signal}`;
    resolveExited();
  });
  child.unref();
  const pid = child.pid ?? -1;

  return {
    pid,
    exited,
    get exitReason() {
      return exitReason;
    },
    async stop(signal, timeoutMs) {
      if (pid < 0) return;
      signalGroup(pid, signal);
      const deadline = Date.now() + timeoutMs;
      while (groupAlive(pid) && Date.now() < deadline) {
        await sleep(50);
      }
      if (groupAlive(pid)) {
        signalGroup(pid, "SIGKILL");
        // Bounded: a zombie whose parent never reaps it stays "alive".
        const killDeadline = Date.now() + 5_000;
        while (groupAlive(pid) && Date.now() < killDeadline) await sleep(20);
      }
      await exited;
    },
  };
}

/** Kills the group at once; for the synchronous exit hook. */
export function killGroupSync(pid: number): void {
  signalGroup(pid, "SIGKILL");
}

/** True while any process of group `pgid` is alive (zombies included). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** The last `maxBytes` of a text file, or "" when it cannot be read. */
export function tailOfFile(path: string, maxBytes = 4096): string {
  try {
    const size = statSync(path).size;
    const text = readFileSync(path);
    return text.subarray(Math.max(0, size - maxBytes)).toString("utf8");
  } catch {
    return "";
  }
}

/** Removes a temp dir; synchronous variant for the exit hook. */
export function removeDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Removes a temp dir, retrying while a dying server still writes to it. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/**
 * Calls `probe` every `intervalMs` until it returns true. Fails when
 * `timeoutMs` passes or `failed()` returns a reason (the server exited).
 */
export async function waitUntil(
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs: number; failed: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const reason = options.failed();
    if (reason !== undefined) throw new Error(reason);
    if (await probe()) return;
    if (Date.now() >= deadline) {
      throw new Error(`not ready after ${options.timeoutMs} ms`);
    }
    await sleep(options.intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wraps `fn` so that a second call returns the first call's promise. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}
