/**
 * `warren status [topology-file]`: a table (or `--json`) of every work
 * queue's backlog, tiers, dead letters, consumers and rates, from
 * `readQueueStatus`. Exit code 2 on any finding of `statusProblems` (a
 * dead-letter queue not empty, a work queue without consumers or missing,
 * dead letters held in a queue's dead-letter hop; `--ignore-dlq` and
 * `--ignore-consumers` switch the first two off), so it can gate a
 * deploy; `--watch` redraws the
 * table every `--interval-ms` (in place on a terminal) until Ctrl-C.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type QueueCounts,
  type QueueStatusReport,
  queuesHoldingDeadLetters,
  readQueueStatus,
  type StatusProblem,
  statusProblems,
} from "../status/queue-status.ts";
import { compileTopology } from "../topology/compile.ts";
import { loadTopology } from "../topology/load.ts";
import {
  type Command,
  type CommandContext,
  endpointOptions,
  stringFlag,
  UsageError,
} from "./command.ts";
import { type Output, table } from "./output.ts";

/**
 * How long a one-shot `warren status` waits before it reads again when a
 * queue holds dead letters: past the management API's default statistics
 * interval (5 s), so the second reading is a new sample. Held only in one
 * of them is a message in flight, not a problem.
 */
const HELD_RECHECK_MS = 6_000;

/** Clears a terminal and moves the cursor home, so the next table replaces the last. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** `45s`, `12m`, `3h5m`, `2d4h`: coarse on purpose, it is read at a glance. */
export function formatAge(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

const rate = (perSecond: number) => perSecond.toFixed(1);
/** `ready`, `ready+unacked`, and ` (N held)` for dead letters in the broker's hop. */
const depth = (q: QueueCounts) =>
  `${q.unacked > 0 ? `${q.ready}+${q.unacked}` : `${q.ready}`}${q.held > 0 ? ` (${q.held} held)` : ""}`;

function printReport(out: Output, report: QueueStatusReport, problems: StatusProblem[]): void {
  out.line(`vhost "${report.vhost}" at ${report.readAt} (ready+unacked)`);
  out.line();
  const rows = report.queues.map((q) => [
    q.name,
    q.exists ? depth(q) : "missing",
    String(q.consumers),
    rate(q.publishRate),
    rate(q.deliverRate),
    q.tiers.map((t) => `${t.name.slice(q.name.length + ".retry.".length)}:${depth(t)}`).join(" ") ||
      "-",
    q.deadLetter.exists ? depth(q.deadLetter) : "missing",
    q.oldestDeadLetterAgeSeconds === undefined ? "-" : formatAge(q.oldestDeadLetterAgeSeconds),
  ]);
  const header = [
    "QUEUE",
    "MESSAGES",
    "CONSUMERS",
    "PUBLISH/S",
    "DELIVER/S",
    "TIERS",
    "DLQ",
    "OLDEST DLQ",
  ];
  for (const line of table(header, rows)) out.line(line);
  out.line();
  if (problems.length === 0) out.line("ok: no problems");
  for (const problem of problems) out.line(`problem: ${problem.kind}: ${problem.detail}`);
}

function intervalMs(context: CommandContext): number {
  const text = stringFlag(context.values, "interval-ms") ?? "2000";
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 100) {
    throw new UsageError(`--interval-ms must be an integer >= 100, got "${text}"`);
  }
  return ms;
}

export const statusCommand: Command = {
  summary: "backlog, tiers, dead letters, consumers and rates of each work queue",
  usage: "[topology-file] [--watch] [--ignore-dlq] [--ignore-consumers]",
  help: [
    "[topology-file]             report the file's work queues (default: every work queue of the vhost)",
    "--watch                     redraw every --interval-ms until Ctrl-C (in place on a terminal)",
    "--interval-ms <ms>          refresh interval of --watch (default 2000)",
    "--ignore-dlq                a non-empty dead-letter queue is not a problem (exit 0)",
    "--ignore-consumers          a work queue without consumers is not a problem (exit 0)",
    "Exit codes: 0 no problems, 1 error, 2 a DLQ holds messages, a queue has no consumer or is missing,",
    "            or a queue holds dead letters its target has not accepted in two readings",
    "            (a one-shot run then reads again after 6 s; --watch compares with its last reading).",
  ],
  positionals: [],
  optionalPositionals: ["topology-file"],
  options: {
    watch: { type: "boolean" },
    "interval-ms": { type: "string" },
    "ignore-dlq": { type: "boolean" },
    "ignore-consumers": { type: "boolean" },
  },
  async run(context: CommandContext): Promise<number> {
    const { values, io, out } = context;
    const file = context.positionals[0];
    const topology =
      file === undefined ? undefined : compileTopology(await loadTopology(file, { env: io.env }));
    const vhost = stringFlag(values, "vhost");
    const options = {
      ...endpointOptions(values, io.env),
      ...(topology === undefined ? {} : { topology }),
      ...(vhost === undefined ? {} : { vhost }),
    };
    const problemOptions = {
      deadLetters: values["ignore-dlq"] !== true,
      consumers: values["ignore-consumers"] !== true,
    };
    const watch = values.watch === true;
    const every = watch ? intervalMs(context) : 0;
    // Held dead letters are a problem when two readings in a row show them:
    // --watch compares with its last reading; a one-shot run reads twice.
    let previous: QueueStatusReport | undefined;
    for (;;) {
      let report = await readQueueStatus(options);
      if (!watch && queuesHoldingDeadLetters(report).size > 0) {
        previous = report;
        await sleep(HELD_RECHECK_MS);
        report = await readQueueStatus(options);
      }
      const problems = statusProblems(report, {
        ...problemOptions,
        previous: previous ?? { ...report, queues: [] },
      });
      previous = report;
      if (watch && io.isTty === true && !out.json) out.raw(CLEAR_SCREEN);
      out.result({ ok: problems.length === 0, ...report, problems });
      printReport(out, report, problems);
      if (!watch) return problems.length === 0 ? 0 : 2;
      if (io.isTty !== true) out.line();
      await sleep(every);
    }
  },
};
