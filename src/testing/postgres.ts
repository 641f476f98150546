/**
 * Finds a PostgreSQL database for tests of the PostgreSQL idempotency store,
 * in the same spirit as the broker finder:
 *
 * 1. `DATABASE_URL`: a server someone already runs. `stop()` does nothing.
 * 2. A throwaway local server: `initdb` into a temp dir, then `postgres` on a
 *    free port on 127.0.0.1, its unix socket in the same temp dir, trust
 *    authentication, and durability switched off (fsync, full-page writes):
 *    the data dies with the dir anyway.
 * 3. Otherwise a {@link ConnectionError} `WARREN_POSTGRES_NOT_FOUND` that
 *    says how to get one.
 *
 * PostgreSQL refuses to run as root. When we are root, `initdb` and
 * `postgres` run as the `postgres` user (created by the distribution's
 * package), falling back to `nobody`, and the temp dir is handed to that user.
 */

import { existsSync } from "node:fs";
import { chown, mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ConnectionError, ErrorCode } from "../errors.ts";
import { importPg } from "../optional-dependency.ts";
import { freePort } from "./ports.ts";
import {
  killGroupSync,
  once,
  onProcessExit,
  removeDir,
  removeDirSync,
  startServerProcess,
  tailOfFile,
  waitUntil,
} from "./process.ts";

/** Where a database came from. */
export type PostgresSource = "env" | "local";

/** A PostgreSQL server that accepts connections. */
export interface Postgres {
  /** Connection URL, e.g. `postgres://postgres@127.0.0.1:41234/postgres`. */
  url: string;
  source: PostgresSource;
  /** Stops a local server and removes its temp dir; a no-op for `env`. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link findOrStartPostgres}; every field has a default. */
export interface FindOrStartPostgresOptions {
  /**
   * Sources to try, in this order.
   * @default ["env", "local"]
   */
  sources?: readonly PostgresSource[];
  /**
   * Environment to read `DATABASE_URL` and `PATH` from.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /**
   * How long `initdb` plus server start may take, in milliseconds.
   * @default 60000
   */
  startTimeoutMs?: number;
  /**
   * How long the server may take to shut down before it is killed, in milliseconds.
   * @default 10000
   */
  stopTimeoutMs?: number;
  /**
   * Directory holding `initdb` and `postgres`.
   * @default the newest /usr/lib/postgresql/<version>/bin, else found on PATH
   */
  binDir?: string;
}

/** Defaults of {@link FindOrStartPostgresOptions}. */
export const POSTGRES_DEFAULTS = Object.freeze({
  sources: Object.freeze(["env", "local"] as const),
  startTimeoutMs: 60_000,
  stopTimeoutMs: 10_000,
});

/**
 * Returns a database from the first source that has one. Throws
 * `WARREN_POSTGRES_NOT_FOUND` when none has, and
 * `WARREN_POSTGRES_START_FAILED` (with the tail of the server's log) when a
 * local server did not come up.
 */
export async function findOrStartPostgres(
  options: FindOrStartPostgresOptions = {},
): Promise<Postgres> {
  const env = options.env ?? process.env;
  const tried: string[] = [];
  for (const source of options.sources ?? POSTGRES_DEFAULTS.sources) {
    if (source === "env") {
      const url = env.DATABASE_URL;
      if (url !== undefined && url !== "") return { url, source, stop: async () => {} };
      tried.push("DATABASE_URL: not set");
      continue;
    }
    const binDir = options.binDir ?? (await findPostgresBinDir(env));
    if (binDir === undefined) {
      tried.push("local: no initdb/postgres in /usr/lib/postgresql/*/bin or PATH");
      continue;
    }
    const server = await startLocalPostgres({
      binDir,
      env,
      startTimeoutMs: options.startTimeoutMs ?? POSTGRES_DEFAULTS.startTimeoutMs,
      stopTimeoutMs: options.stopTimeoutMs ?? POSTGRES_DEFAULTS.stopTimeoutMs,
    });
    return { url: server.url, source, stop: once(server.stop) };
  }
  throw new ConnectionError(
    ErrorCode.WARREN_POSTGRES_NOT_FOUND,
    [
      "No PostgreSQL server found. Tried:",
      ...tried.map((line) => `  - ${line}`),
      "Get one in any of these ways:",
      "  - point at a running server: export DATABASE_URL=postgres://postgres:postgres@localhost:5432/postgres " +
        "(`docker compose up -d postgres` starts one)",
      "  - install PostgreSQL: `sudo apt-get install postgresql` (Debian/Ubuntu) or " +
        "`brew install postgresql` (macOS); a throwaway server is then started per test run",
    ].join("\n"),
  );
}

/** A running throwaway server. */
export interface LocalPostgres {
  url: string;
  /** Temp dir holding the data dir, socket and log; removed by `stop()`. */
  dir: string;
  /** Process group id of the postmaster. */
  pid: number;
  stop(): Promise<void>;
}

/** Finds the directory holding `initdb` and `postgres`, or returns undefined. */
export async function findPostgresBinDir(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const candidates: string[] = [];
  try {
    const versions = (await readdir("/usr/lib/postgresql"))
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => `/usr/lib/postgresql/${version}/bin`));
  } catch {
    // Not Debian's layout.
  }
  candidates.push(...(env.PATH ?? "").split(delimiter).filter((dir) => dir !== ""));
  return candidates.find(
    (dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres")),
  );
}

/** Runs `initdb` then `postgres`; resolves once `SELECT 1` answers. */
export async function startLocalPostgres(options: {
  binDir: string;
  env: NodeJS.ProcessEnv;
  startTimeoutMs: number;
  stopTimeoutMs: number;
}): Promise<LocalPostgres> {
  // Checked before anything starts: without pg nothing can probe the server.
  const { default: pg } = await importPg("Starting a PostgreSQL server (warren/testing)");
  const dir = await mkdtemp(join(tmpdir(), "warren-postgres-"));
  const dataDir = join(dir, "data");
  const logFile = join(dir, "server.log");
  const user = process.getuid?.() === 0 ? await unprivilegedUser() : undefined;
  if (user !== undefined) await chown(dir, user.uid, user.gid);
  const env: NodeJS.ProcessEnv = { ...options.env, HOME: dir, LC_ALL: "C" };
  for (const key of Object.keys(env)) if (key.startsWith("PG")) delete env[key];
  const asUser = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  const started = Date.now();

  const cleanupOnFailure = async (reason: string, cause: unknown): Promise<never> => {
    const log = tailOfFile(logFile, 4096);
    await removeDir(dir);
    throw new ConnectionError(
      ErrorCode.WARREN_POSTGRES_START_FAILED,
      `The throwaway PostgreSQL server (${options.binDir}) did not start: ${reason}. ` +
        "Set DATABASE_URL to use a running server instead. Last lines of its log:\n" +
        (log.trim() === "" ? "(empty)" : log),
      { cause },
    );
  };

  const initdb = startServerProcess({
    command: join(options.binDir, "initdb"),
    args: ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    env,
    cwd: dir,
    logFile,
    ...asUser,
  });
  const unregisterInitdb = onProcessExit(() => killGroupSync(initdb.pid));
  const initdbTimeout = setTimeout(
    () => void initdb.stop("SIGKILL", 1_000),
    options.startTimeoutMs,
  );
  await initdb.exited;
  clearTimeout(initdbTimeout);
  unregisterInitdb();
  if (initdb.exitReason !== "exit code 0") {
    return cleanupOnFailure(`initdb failed (${initdb.exitReason})`, undefined);
  }

  const port = await freePort();
  const server = startServerProcess({
    command: join(options.binDir, "postgres"),
    args: [
      "-D",
      dataDir,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
    ],
    env,
    cwd: dir,
    logFile,
    ...asUser,
  });
  const unregister = onProcessExit(() => {
    killGroupSync(server.pid);
    removeDirSync(dir);
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    // SIGINT is PostgreSQL's "fast" shutdown: abort sessions, exit cleanly.
    await server.stop("SIGINT", options.stopTimeoutMs);
    await removeDir(dir);
    unregister();
  };

  try {
    await waitUntil(() => answers(pg, url), {
      timeoutMs: Math.max(1_000, options.startTimeoutMs - (Date.now() - started)),
      intervalMs: 100,
      failed: () =>
        server.exitReason === undefined ? undefined : `it exited (${server.exitReason})`,
    });
  } catch (error) {
    const log = tailOfFile(logFile, 4096);
    await server.stop("SIGKILL", options.stopTimeoutMs);
    unregister();
    await removeDir(dir);
    throw new ConnectionError(
      ErrorCode.WARREN_POSTGRES_START_FAILED,
      `The throwaway PostgreSQL server (${options.binDir}, port ${port}) did not start: ` +
        `${(error as Error).message}. Set DATABASE_URL to use a running server instead. ` +
        `Last lines of its log:\n${log.trim() === "" ? "(empty)" : log}`,
      { cause: error },
    );
  }
  return { url, dir, pid: server.pid, stop };
}

async function answers(pg: typeof import("pg").default, url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** uid/gid of `postgres`, else `nobody`, read from /etc/passwd. */
async function unprivilegedUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  const users = new Map<string, { uid: number; gid: number }>();
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid) users.set(name, { uid: Number(uid), gid: Number(gid) });
  }
  const user = users.get("postgres") ?? users.get("nobody");
  if (user === undefined) {
    throw new ConnectionError(
      ErrorCode.WARREN_POSTGRES_START_FAILED,
      "PostgreSQL refuses to run as root and there is no `postgres` or `nobody` user to run it as. " +
        "Run the tests as a regular user, or set DATABASE_URL.",
    );
  }
  return user;
}
