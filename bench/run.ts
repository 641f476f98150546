/**
 * `npm run bench`: runs the comparisons and the latency, concurrency and
 * RSS sections, and writes their tables into the generated block of
 * docs/performance.md (between `<!-- bench:start -->` and
 * `<!-- bench:end -->`); the hand-written prose around it is kept.
 *
 *   node bench/run.ts [--rounds 5] [--sections comparisons,latency,concurrency,rss]
 *     [--match <text>] [--only "<comparison name>"] [--scale 0.1] [--no-write] [--quick]
 *
 * - `--sections` picks what runs (default: all four);
 * - `--match` keeps the comparisons whose name contains the text (e.g.
 *   "quorum", "pipelined", "rabbitmq-client"); `--only` keeps one by name;
 * - `--scale 0.1` runs a tenth of each scenario's messages (at least 100),
 *   for a machine where the full counts do not fit the time there is; the
 *   scale is written next to the figures;
 * - `--quick`: a quarter of the messages and two rounds, never written.
 *
 * Every measurement runs in a fresh process (bench/measure-one.ts), so no
 * side inherits another's JIT state, heap or sockets; the sides of a row
 * alternate which goes first. The 1-minute load average is sampled before
 * every measurement and reported with each row.
 *
 * The broker comes from `findOrStartBroker()` (RABBITMQ_URL, else a Docker
 * container, else a throwaway local rabbitmq-server) and is stopped at the
 * end; the PostgreSQL guard rows get a database from `findOrStartPostgres()`
 * (DATABASE_URL, else a throwaway local server) and are skipped with a note
 * when there is none.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg } from "node:os";
import { parseArgs, promisify } from "node:util";
import { connect as amqpConnect } from "amqplib";
import { type Broker, findOrStartBroker } from "../src/testing/broker.ts";
import { findOrStartPostgres, type Postgres } from "../src/testing/postgres.ts";
import { comparisons } from "./comparisons.ts";
import { type ConcurrencyRow, formatConcurrency, measureConcurrency } from "./consume.ts";
import { formatLatency, type LatencyRow, measureLatency } from "./latency.ts";
import { formatRss, type RssFigures } from "./rss.ts";
import { type BenchContext, type Comparison, type Measurement, median, rate } from "./scenario.ts";

const SECTIONS = ["comparisons", "latency", "concurrency", "rss"] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    sections: { type: "string" },
    only: { type: "string" },
    match: { type: "string" },
    scale: { type: "string" },
    "no-write": { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
  },
});
const quick = values.quick;
const rounds = Number(values.rounds ?? (quick ? 2 : 5));
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
const sections = new Set(
  (values.sections ?? SECTIONS.join(",")).split(",").map((s) => s.trim()) as Section[],
);
for (const section of sections) {
  if (!SECTIONS.includes(section)) {
    throw new Error(`--sections: unknown "${section}"; one or more of ${SECTIONS.join(", ")}`);
  }
}
const only = values.only;
if (only !== undefined && !comparisons.some((c) => c.name === only)) {
  throw new Error(
    `--only "${only}" names no comparison; one of:\n${comparisons.map((c) => `  ${c.name}`).join("\n")}`,
  );
}
const match = values.match;
const scale = Number(values.scale ?? (quick ? 0.25 : 1));
if (!(scale > 0 && scale <= 1)) throw new Error("--scale must be in (0, 1]");
const write = !values["no-write"] && !quick;

// The script, unlike the library, may own the process: on Ctrl-C, exit
// normally so that the exit hooks stop a broker or database we started.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(130));
}

interface Row {
  comparison: Comparison;
  candidate: number[];
  baseline: number[];
  /** candidate / baseline of each round, both measured back to back. */
  ratios: number[];
  /** 1-minute load averages sampled before each measurement. */
  loads: number[];
  /** The candidate's last note (e.g. database round trips per message). */
  note: string | undefined;
}

const execFileAsync = promisify(execFile);
const loadsSeen: number[] = [];

/** Runs one side of a comparison, or one single scenario, in a fresh node process. */
async function runFresh(
  context: BenchContext,
  name: string,
  side: "candidate" | "baseline" | "single",
  loads?: number[],
): Promise<Measurement> {
  const load = loadavg()[0] as number;
  loads?.push(load);
  loadsSeen.push(load);
  const settings = JSON.stringify({
    url: context.url,
    queueName: context.queueName(),
    scale: context.scale,
    databaseUrl: context.databaseUrl,
  });
  const script = new URL("./measure-one.ts", import.meta.url).pathname;
  const { stdout } = await execFileAsync(process.execPath, [script, name, side, settings], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as Measurement;
}

async function measure(context: BenchContext, comparison: Comparison): Promise<Row> {
  const row: Row = {
    comparison,
    candidate: [],
    baseline: [],
    ratios: [],
    loads: [],
    note: undefined,
  };
  // One unmeasured run of each warms up the broker (each process starts cold).
  await runFresh(context, comparison.name, "candidate");
  await runFresh(context, comparison.name, "baseline");
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so neither always runs on a warmer broker.
    const order =
      round % 2 === 0 ? (["candidate", "baseline"] as const) : (["baseline", "candidate"] as const);
    for (const side of order) {
      const measured = await runFresh(context, comparison.name, side, row.loads);
      const result = rate(measured);
      row[side].push(result);
      if (side === "candidate" && measured.note !== undefined) row.note = measured.note;
      console.log(
        `${comparison.name} #${round + 1} ${comparison[side].label}: ${result.toFixed(0)} msg/s (load ${(row.loads.at(-1) as number).toFixed(1)})`,
      );
    }
    row.ratios.push((row.candidate.at(-1) as number) / (row.baseline.at(-1) as number));
  }
  return row;
}

function targetCells(comparison: Comparison, ratio: number): [string, string] {
  if (comparison.target === undefined) {
    const cost = (1 - ratio) * 100;
    return ["none (measures a cost)", `costs ${cost.toFixed(0)} % of throughput`];
  }
  return [`≥ ${comparison.target}×`, ratio >= comparison.target ? "met" : "**not met**"];
}

const range = (list: readonly number[]) =>
  list.length === 0 ? "—" : `${Math.min(...list).toFixed(1)}–${Math.max(...list).toFixed(1)}`;

function formatRows(rows: Row[]): string {
  const lines = [
    "| scenario | candidate (median msg/s) | baseline (median msg/s) | median ratio | ratio range | target | result | load (1 min) | runs |",
    "|---|---:|---:|---:|---|---|---|---|---:|",
  ];
  for (const { comparison, candidate, baseline, ratios, loads } of rows) {
    const ratio = median(ratios);
    const [target, result] = targetCells(comparison, ratio);
    lines.push(
      `| ${comparison.name} | ${median(candidate).toFixed(0)} (${comparison.candidate.label}) | ${median(baseline).toFixed(0)} (${comparison.baseline.label}) | ${ratio.toFixed(3)}× | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} | ${target} | ${result} | ${range(loads)} | ${candidate.length} + ${baseline.length} |`,
    );
  }
  return lines.join("\n");
}

async function brokerVersion(url: string): Promise<string> {
  const model = await amqpConnect(url);
  const version = String(model.connection.serverProperties.version ?? "unknown");
  await model.close();
  return version;
}

const brokerSources: Record<Broker["source"], string> = {
  env: "the broker at RABBITMQ_URL",
  testcontainers: "a RabbitMQ container started by the run (testcontainers)",
  local: "a throwaway local rabbitmq-server node started by the run",
};

const selected = sections.has("comparisons")
  ? comparisons.filter(
      (c) =>
        (only === undefined || c.name === only) && (match === undefined || c.name.includes(match)),
    )
  : [];
const command = `node bench/run.ts ${process.argv.slice(2).join(" ")}`.trim();
const startedAt = new Date();
const broker = await findOrStartBroker();
console.log(`broker: ${brokerSources[broker.source]}`);
let postgres: Postgres | undefined;
const skipped: string[] = [];
try {
  if (selected.some((c) => c.needs === "postgres")) {
    try {
      postgres = await findOrStartPostgres();
      console.log(
        `PostgreSQL: ${postgres.source === "env" ? "DATABASE_URL" : "a throwaway local server"}`,
      );
    } catch (error) {
      const reason = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
      skipped.push(
        ...selected
          .filter((c) => c.needs === "postgres")
          .map((c) => `**${c.name}**: skipped, no PostgreSQL (${reason})`),
      );
    }
  }
  const runId = Math.random().toString(36).slice(2, 8);
  let counter = 0;
  const context: BenchContext = {
    url: broker.url,
    queueName: () => `bench-${runId}-${++counter}`,
    scale,
    databaseUrl: postgres?.url,
  };

  const version = await brokerVersion(broker.url);
  const results: RunResults = {
    rows: [],
    skipped,
    latency: undefined,
    concurrency: undefined,
    rss: undefined,
    version,
    brokerSource: brokerSources[broker.source],
  };
  // Written after every row and section, so that a long run stopped early
  // still leaves what it measured (marked as partial until it completes).
  const save = async (complete: boolean) => {
    if (!write) return;
    const block = generatedBlock(results, complete);
    const path = new URL("../docs/performance.md", import.meta.url);
    const previous = await readFile(path, "utf8").catch(() => "# Performance\n");
    // Anchored to whole lines: the prose may name the markers inline.
    const marked = /^<!-- bench:start -->$[\s\S]*^<!-- bench:end -->$/m;
    const next = marked.test(previous)
      ? previous.replace(marked, () => block)
      : `${previous.trimEnd()}\n\n${block}\n`;
    await writeFile(path, next);
  };

  for (const comparison of selected) {
    if (comparison.needs === "postgres" && postgres === undefined) continue;
    results.rows.push(await measure(context, comparison));
    await save(false);
  }
  if (results.rows.length > 0) console.log(`\n${formatRows(results.rows)}`);
  for (const note of skipped) console.log(note.replaceAll("**", ""));

  if (sections.has("latency")) {
    loadsSeen.push(loadavg()[0] as number);
    results.latency = await measureLatency(context, rounds, console.log);
    console.log(`\n${formatLatency(results.latency)}`);
    await save(false);
  }
  if (sections.has("concurrency")) {
    results.concurrency = await measureConcurrency(
      context,
      rounds,
      (level) => runFresh(context, `concurrency ${level}`, "single"),
      console.log,
    );
    console.log(`\n${formatConcurrency(results.concurrency)}`);
    await save(false);
  }
  if (sections.has("rss")) {
    results.rss = [];
    for (let round = 0; round < Math.min(rounds, 3); round++) {
      const measured = await runFresh(context, "rss", "single");
      results.rss.push(JSON.parse(measured.note ?? "{}") as RssFigures);
    }
    console.log(`\n${formatRss(results.rss)}`);
  }
  await save(true);
  if (write) console.log("wrote the generated block of docs/performance.md");
} finally {
  await postgres?.stop();
  await broker.stop();
}

/** What one run measured so far. */
interface RunResults {
  rows: Row[];
  skipped: string[];
  latency: LatencyRow[] | undefined;
  concurrency: ConcurrencyRow[] | undefined;
  rss: RssFigures[] | undefined;
  version: string;
  brokerSource: string;
}

/** The block of docs/performance.md this script owns; everything outside it is hand-written. */
function generatedBlock(run: RunResults, complete: boolean): string {
  const parts: string[] = [
    "<!-- bench:start -->",
    "<!-- Written by `npm run bench` (bench/run.ts); edits between these markers are overwritten. -->",
    "## Figures of the last run",
    "",
    ...(complete
      ? []
      : ["**Partial: the run was still going (or was stopped) when this was written.**", ""]),
    `Command: \`${command}\` (${rounds} rounds, scale ${scale}), ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC to ${new Date().toISOString().slice(11, 16)} UTC.`,
    `RabbitMQ ${run.version} (${run.brokerSource}) on the same machine as the client, Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "unknown"}). 1-minute load average during the run: ${range(loadsSeen)}.`,
  ];
  if (run.rows.length > 0) {
    parts.push(
      "",
      "### Throughput",
      "",
      "The rates are medians of the rounds; the ratio is the median of the rounds' candidate/baseline ratios (both sides measured back to back), its range the lowest and highest round.",
      "",
      formatRows(run.rows),
    );
    if (run.skipped.length > 0) parts.push("", ...run.skipped.map((note) => `- ${note}`));
    parts.push(
      "",
      "Scenarios:",
      "",
      ...run.rows.map(
        ({ comparison, note }) =>
          `- **${comparison.name}**: ${comparison.description}.${note === undefined ? "" : ` Counted in the last candidate run: ${note}.`}`,
      ),
    );
  }
  if (run.latency !== undefined) {
    parts.push(
      "",
      "### End-to-end latency",
      "",
      "Published at a steady 1,000 msg/s to a durable classic queue on one connection and consumed (prefetch 1) on another, in one process; latency runs from the publish call to the handler start. Each figure is the median over the rounds (max: the largest in any round). warren's p50 target (issue #10) is no higher than raw amqplib with TCP_NODELAY in the same run, its p99 target 5 ms.",
      "",
      formatLatency(run.latency),
    );
  }
  if (run.concurrency !== undefined) {
    parts.push(
      "",
      "### Consumer concurrency",
      "",
      "A pre-filled durable classic queue drained by warren at concurrency 1, 2, 4 and 8 (prefetch 1 per lane), the handler awaiting a 1 ms timer in place of 1 ms of I/O (bench/consume.ts); from the first delivery to the last.",
      "",
      formatConcurrency(run.concurrency),
    );
  }
  if (run.rss !== undefined) {
    parts.push(
      "",
      "### Memory under a publisher that outruns the broker",
      "",
      "200,000 publishes of 1 KiB issued to warren, 1,000 per event-loop turn, none awaited (bench/rss.ts), in a fresh process; RSS sampled every 100 ms. warren holds at most `maxInFlight` (1,000) written and `maxQueued` (100,000) waiting publishes and refuses the rest at once (`WARREN_PUBLISH_BACKLOG_FULL`).",
      "",
      formatRss(run.rss),
    );
  }
  parts.push("<!-- bench:end -->");
  return parts.join("\n");
}
