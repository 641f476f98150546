/**
 * Client CPU per message, the instrument that stays meaningful on a loaded
 * machine where wall-clock ratios do not (docs/performance.md). For each
 * workload it runs every system in its own fresh process against one
 * broker, the systems alternating, and reports
 *
 * - `cpu µs/msg`: the process's user + system CPU (`process.cpuUsage`) over
 *   `--messages` messages, after `--warmup` messages on the same connection;
 * - of it, `main thread µs/msg`: the JavaScript thread's share (its
 *   `/proc/self/task/<pid>/schedstat`); the rest is V8's workers (garbage
 *   collection, compilation) and libuv's;
 * - `broker µs/msg`: the CPU the broker's process (`beam.smp`, found by the
 *   port of the URL) spent over the same window, summed over its threads'
 *   `/proc/<pid>/task/<tid>/schedstat` (nanoseconds, unlike the 10 ms ticks
 *   of `/proc/<pid>/stat`); absent when the broker is not a local process;
 * - with `--callgrind`: instructions per message, counted by
 *   `valgrind --tool=callgrind` (repeatable whatever the load). The child
 *   runs twice under callgrind, with `--messages` and with twice that, and
 *   the difference of the two totals divided by `--messages` is the cost of
 *   one more message: start-up, warm-up and connection set-up cancel out.
 *
 *   node bench/cpu.ts [--workloads awaited,pipelined,consume-1,consume-50]
 *     [--systems warren,amqplib] [--messages 5000] [--warmup 2000]
 *     [--queue-type classic|quorum] [--rounds 3] [--callgrind]
 *     [--node-args=--cpu-prof,--cpu-prof-dir=/tmp/prof] [--wrap "strace -f -c -o /tmp/t"]
 *
 * Queues are declared and filled by this (parent) process, so the children
 * spend their CPU on the workload only. Broker: RABBITMQ_URL, else one found
 * or started as in run.ts.
 */
import { execFile, execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { findOrStartBroker } from "../src/testing/broker.ts";
import { type BenchContext, median } from "./scenario.ts";
import { loops, peerBenchDefaults, type QueueType, systemsByKey, withQueue } from "./systems.ts";

const execFileAsync = promisify(execFile);

/** Extra node flags for the plain children (`--node-args=--cpu-prof,--cpu-prof-dir=/tmp/prof`). */
let nodeArgs: string[] = [];
/** A command the plain children run under (`--wrap "strace -c -f -o /tmp/trace"`). */
let wrap: string[] = [];

export type Workload = "awaited" | "pipelined" | "consume-1" | "consume-50";
const WORKLOADS: readonly Workload[] = ["awaited", "pipelined", "consume-1", "consume-50"];

/** What one child measured. */
interface ChildResult {
  messages: number;
  cpuUs: number;
  /** The main (JavaScript) thread's part of `cpuUs`, when /proc tells it. */
  mainThreadCpuUs?: number;
  wallUs: number;
  /** The measured window on the monotonic clock, in µs (to cut a CPU profile to it). */
  window: [number, number];
  /** CPU the broker's process spent in the window, in µs (when its pid is known). */
  brokerCpuUs?: number;
}

/** CPU time in ns thread `tid` of process `pid` has spent (the first field of its schedstat); throws when unreadable. */
function threadCpuNs(pid: number | "self", tid: number | string): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
}

/** CPU time in ns the process `pid` has spent, summed over its threads; undefined when unreadable. */
export function processCpuNs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) total += threadCpuNs(pid, tid);
    return total;
  } catch {
    return undefined;
  }
}

/** CPU time in ns this process's main thread (its thread id is the pid) has spent; undefined when unreadable. */
function mainThreadCpuNs(): number | undefined {
  try {
    return threadCpuNs("self", process.pid);
  } catch {
    return undefined;
  }
}

/** The pid of the process listening on the URL's port on this machine (`ss -ltnp`), if any. */
export function listenerPid(url: string): number | undefined {
  const parsed = new URL(url);
  if (!["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname)) return undefined;
  const port = parsed.port === "" ? "5672" : parsed.port;
  try {
    const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
    const match = /pid=(\d+)/.exec(out);
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * The child: warms up, then runs `messages` of `workload` with `system`
 * against `queue` and prints its CPU and wall time as one JSON line.
 */
async function child(
  url: string,
  systemKey: string,
  workload: Workload,
  queue: string,
  warmup: number,
  messages: number,
  brokerPid: number | undefined,
): Promise<ChildResult> {
  const system = systemsByKey[systemKey];
  if (system === undefined) throw new Error(`unknown system ${systemKey}`);
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  // Monotonic microseconds, the clock of a --cpu-prof profile: the measured window in it.
  const clock = () => Number(process.hrtime.bigint() / 1000n);
  let from = clock();
  let broker0 = processCpuNs(brokerPid);
  let main0 = mainThreadCpuNs();
  const start = () => {
    broker0 = processCpuNs(brokerPid);
    main0 = mainThreadCpuNs();
    cpu0 = process.cpuUsage();
    wall0 = performance.now();
    from = clock();
  };
  const stop = (): ChildResult => {
    const cpu = process.cpuUsage(cpu0);
    const broker1 = processCpuNs(brokerPid);
    const main1 = mainThreadCpuNs();
    return {
      messages,
      cpuUs: cpu.user + cpu.system,
      ...(main0 !== undefined && main1 !== undefined
        ? { mainThreadCpuUs: (main1 - main0) / 1000 }
        : {}),
      wallUs: (performance.now() - wall0) * 1000,
      window: [from, clock()],
      ...(broker0 !== undefined && broker1 !== undefined
        ? { brokerCpuUs: (broker1 - broker0) / 1000 }
        : {}),
    };
  };
  if (workload === "awaited" || workload === "pipelined") {
    const session = await system.publishing.open(url);
    const concurrency = workload === "awaited" ? 1 : peerBenchDefaults.loops;
    const publish = (i: number) => session.publish(queue, i);
    await loops(warmup, concurrency, publish);
    start();
    await loops(messages, concurrency, publish);
    const result = stop();
    await session.close();
    return result;
  }
  const prefetch = workload === "consume-1" ? 1 : 50;
  const { promise, resolve } = Promise.withResolvers<ChildResult>();
  let count = 0;
  const session = await system.consuming.open(url, queue);
  await session.consume(prefetch, () => {
    count++;
    if (count === warmup) start();
    if (count === warmup + messages) resolve(stop());
  });
  const result = await promise;
  await session.close();
  return result;
}

function childArgs(
  url: string,
  system: string,
  workload: Workload,
  queue: string,
  warmup: number,
  messages: number,
): string[] {
  const script = new URL(import.meta.url).pathname;
  const brokerPid = listenerPid(url);
  return [
    script,
    "--child",
    JSON.stringify({ url, system, workload, queue, warmup, messages, brokerPid }),
  ];
}

/**
 * Declares (and for a consume workload fills) the queue of one child run,
 * runs `body`, and deletes the queue: the filling is this process's work,
 * never the child's.
 */
function withChildQueue<T>(
  url: string,
  workload: Workload,
  type: QueueType,
  fill: number,
  body: (queue: string) => Promise<T>,
): Promise<T> {
  const context: BenchContext = {
    url,
    queueName: () => `cpu-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    scale: 1,
    databaseUrl: undefined,
  };
  return withQueue(context, type, workload.startsWith("consume") ? fill : 0, body);
}

/** Runs one child as a plain process: CPU and wall time per message. */
function runPlain(
  url: string,
  system: string,
  workload: Workload,
  type: QueueType,
  warmup: number,
  messages: number,
): Promise<ChildResult> {
  return withChildQueue(url, workload, type, warmup + messages, async (queue) => {
    const [command, ...prefix] = [...wrap, process.execPath];
    const { stdout } = await execFileAsync(
      command as string,
      [...prefix, ...nodeArgs, ...childArgs(url, system, workload, queue, warmup, messages)],
      { maxBuffer: 1 << 20 },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1) as string) as ChildResult;
    if (nodeArgs.length > 0 || wrap.length > 0) console.error(JSON.stringify(result));
    return result;
  });
}

/** Total instructions of one child run under callgrind. */
async function instructions(
  url: string,
  system: string,
  workload: Workload,
  type: QueueType,
  warmup: number,
  messages: number,
): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "warren-cpu-"));
  const out = join(dir, "callgrind.out");
  try {
    return await withChildQueue(url, workload, type, warmup + messages, (queue) =>
      callgrindTotal(out, childArgs(url, system, workload, queue, warmup, messages)),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function callgrindTotal(out: string, args: string[]): Promise<number> {
  await execFileAsync(
    "valgrind",
    [
      "--tool=callgrind",
      `--callgrind-out-file=${out}`,
      // V8 writes and rewrites machine code on its heap.
      "--smc-check=all-non-file",
      process.execPath,
      ...args,
    ],
    { maxBuffer: 1 << 24 },
  );
  const text = await readFile(out, "utf8");
  const total = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
  if (total === null) throw new Error(`no totals in ${out}`);
  return Number(total[1]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      workloads: { type: "string", default: WORKLOADS.join(",") },
      systems: { type: "string", default: "warren,amqplib" },
      messages: { type: "string", default: "5000" },
      warmup: { type: "string", default: "2000" },
      rounds: { type: "string", default: "3" },
      "queue-type": { type: "string", default: "classic" },
      callgrind: { type: "boolean", default: false },
      "node-args": { type: "string", default: "" },
      wrap: { type: "string", default: "" },
    },
  });
  wrap = (values.wrap as string).split(" ").filter((a) => a !== "");
  nodeArgs = (values["node-args"] as string).split(",").filter((a) => a !== "");
  if (values.child !== undefined) {
    const a = JSON.parse(values.child) as {
      url: string;
      system: string;
      workload: Workload;
      queue: string;
      warmup: number;
      messages: number;
      brokerPid?: number;
    };
    const result = await child(
      a.url,
      a.system,
      a.workload,
      a.queue,
      a.warmup,
      a.messages,
      a.brokerPid,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
    // Peers may keep timers (reconnect loops) alive after close.
    process.exit(0);
  }
  const workloads = (values.workloads as string).split(",") as Workload[];
  for (const w of workloads) {
    if (!WORKLOADS.includes(w)) throw new Error(`--workloads: unknown ${w}; one of ${WORKLOADS}`);
  }
  const systems = (values.systems as string).split(",");
  for (const s of systems) {
    if (systemsByKey[s] === undefined) {
      throw new Error(`--systems: unknown ${s}; one of ${Object.keys(systemsByKey)}`);
    }
  }
  const messages = Number(values.messages);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const type = values["queue-type"] as QueueType;
  const broker = await findOrStartBroker();
  try {
    console.log(
      `| workload | system | ${values.callgrind ? "instructions/msg" : "cpu µs/msg (median) | of it main thread (median) | wall µs/msg (median) | broker cpu µs/msg (median, range)"} | load average (1 min) | runs |`,
    );
    console.log(`|---|---|---:|${values.callgrind ? "" : "---:|---:|---:|"}---:|---:|`);
    for (const workload of workloads) {
      const results = new Map<string, ChildResult[] | number[]>();
      const loads: number[] = [];
      for (let round = 0; round < (values.callgrind ? 1 : rounds); round++) {
        const order = round % 2 === 0 ? systems : [...systems].reverse();
        for (const system of order) {
          loads.push(loadavg()[0] as number);
          if (values.callgrind) {
            const one = await instructions(broker.url, system, workload, type, warmup, messages);
            const two = await instructions(
              broker.url,
              system,
              workload,
              type,
              warmup,
              2 * messages,
            );
            results.set(system, [(two - one) / messages]);
          } else {
            const list = (results.get(system) as ChildResult[] | undefined) ?? [];
            list.push(await runPlain(broker.url, system, workload, type, warmup, messages));
            results.set(system, list);
          }
        }
      }
      const load = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
      for (const system of systems) {
        const list = results.get(system) ?? [];
        if (values.callgrind) {
          console.log(
            `| ${workload} (${type}) | ${system} | ${Math.round(list[0] as number)} | ${load} | 2 |`,
          );
        } else {
          const runs = list as ChildResult[];
          const cpu = median(runs.map((r) => r.cpuUs / r.messages));
          const wall = median(runs.map((r) => r.wallUs / r.messages));
          const mainRuns = runs.filter((r) => r.mainThreadCpuUs !== undefined);
          const main =
            mainRuns.length === 0
              ? "—"
              : median(mainRuns.map((r) => (r.mainThreadCpuUs as number) / r.messages)).toFixed(1);
          const brokerRuns = runs.filter((r) => r.brokerCpuUs !== undefined);
          const perMessage = brokerRuns.map((r) => (r.brokerCpuUs as number) / r.messages);
          const broker =
            perMessage.length === 0
              ? "—"
              : `${median(perMessage).toFixed(1)} (${Math.min(...perMessage).toFixed(0)}–${Math.max(...perMessage).toFixed(0)})`;
          console.log(
            `| ${workload} (${type}) | ${system} | ${cpu.toFixed(1)} | ${main} | ${wall.toFixed(1)} | ${broker} | ${load} | ${runs.length} |`,
          );
        }
      }
    }
  } finally {
    await broker.stop();
  }
}

await main();
