/**
 * `npm run bench`: runs every comparison and the latency table, alternating
 * candidate and baseline runs, and writes the tables to docs/performance.md.
 *
 *   node bench/run.ts [--rounds 5] [--only "<scenario name>"] [--match <text>] [--no-write] [--quick]
 *
 * Every measurement runs in a fresh process (bench/measure-one.ts), so no
 * side inherits another's JIT state, heap or sockets. `--match` keeps the
 * scenarios whose name contains the text (e.g. "quorum", "pipelined");
 * `--scale 0.1` runs a tenth of each scenario's messages (at least 100).
 *
 * The broker comes from `findOrStartBroker()` (RABBITMQ_URL, else a Docker
 * container, else a throwaway local rabbitmq-server) and is stopped at the
 * end; the PostgreSQL guard rows get a database from `findOrStartPostgres()`
 * (DATABASE_URL, else a throwaway local server) and are skipped with a note
 * when there is none. `--only` takes a scenario name from the table, or
 * "end-to-end latency". `--quick` runs a quarter of the messages and two
 * rounds: a smoke test whose figures are never written to the docs.
 *
 * Add scenarios by exporting a `Comparison[]` from a module next to this one
 * and listing it in `comparisons` below.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { parseArgs, promisify } from "node:util";
import { connect as amqpConnect } from "amqplib";
import { type Broker, findOrStartBroker } from "../src/testing/broker.ts";
import { findOrStartPostgres, type Postgres } from "../src/testing/postgres.ts";
import { comparisons } from "./comparisons.ts";
import { formatLatency, type LatencyRow, latencyTargets, measureLatency } from "./latency.ts";
import { type BenchContext, type Comparison, type Measurement, median, rate } from "./scenario.ts";

const LATENCY = "end-to-end latency";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
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
const only = values.only;
if (only !== undefined && only !== LATENCY && !comparisons.some((c) => c.name === only)) {
  throw new Error(
    `--only "${only}" names no scenario; one of:\n${[...comparisons.map((c) => c.name), LATENCY].map((n) => `  ${n}`).join("\n")}`,
  );
}
const match = values.match;
// A fraction of each scenario's message count, for a loaded machine where
// the full counts would not fit in the time there is; recorded in the output.
const scale = Number(values.scale ?? (quick ? 0.25 : 1));
if (!(scale > 0 && scale <= 1)) throw new Error("--scale must be in (0, 1]");
const write = !values["no-write"] && only === undefined && match === undefined && !quick;

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
}

const execFileAsync = promisify(execFile);

/** Runs one side of a comparison in a fresh node process (bench/measure-one.ts). */
async function runFresh(
  context: BenchContext,
  comparison: Comparison,
  side: "candidate" | "baseline",
): Promise<Measurement> {
  const settings = JSON.stringify({
    url: context.url,
    queueName: context.queueName(),
    scale: context.scale,
    databaseUrl: context.databaseUrl,
  });
  const script = new URL("./measure-one.ts", import.meta.url).pathname;
  const { stdout } = await execFileAsync(
    process.execPath,
    [script, comparison.name, side, settings],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as Measurement;
}

async function measure(context: BenchContext, comparison: Comparison): Promise<Row> {
  const row: Row = { comparison, candidate: [], baseline: [], ratios: [] };
  // One unmeasured run of each warms up the broker (each process starts cold).
  await runFresh(context, comparison, "candidate");
  await runFresh(context, comparison, "baseline");
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so neither always runs on a warmer broker.
    const order =
      round % 2 === 0 ? (["candidate", "baseline"] as const) : (["baseline", "candidate"] as const);
    for (const side of order) {
      const result = rate(await runFresh(context, comparison, side));
      row[side].push(result);
      console.log(
        `${comparison.name} #${round + 1} ${comparison[side].label}: ${result.toFixed(0)} msg/s`,
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

function formatRows(rows: Row[]): string {
  const lines = [
    "| scenario | warren (median msg/s) | baseline (median msg/s) | ratio | target | result | runs |",
    "|---|---:|---:|---:|---|---|---:|",
  ];
  for (const { comparison, candidate, baseline, ratios } of rows) {
    const ratio = median(ratios);
    const [target, result] = targetCells(comparison, ratio);
    lines.push(
      `| ${comparison.name} | ${median(candidate).toFixed(0)} (${comparison.candidate.label}) | ${median(baseline).toFixed(0)} (${comparison.baseline.label}) | ${ratio.toFixed(3)}× | ${target} | ${result} | ${candidate.length} + ${baseline.length} |`,
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

const selected = comparisons.filter(
  (c) => (only === undefined || c.name === only) && (match === undefined || c.name.includes(match)),
);
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

  const rows: Row[] = [];
  for (const comparison of selected) {
    if (comparison.needs === "postgres" && postgres === undefined) continue;
    rows.push(await measure(context, comparison));
  }
  const table = formatRows(rows);
  console.log(`\n${table}`);
  console.log(`(scale ${scale}, ${rounds} rounds)`);
  for (const note of skipped) console.log(note.replaceAll("**", ""));

  let latency: LatencyRow[] | undefined;
  if ((only === undefined && match === undefined) || only === LATENCY) {
    latency = await measureLatency(context, rounds, console.log);
    console.log(`\n${formatLatency(latency)}`);
  }

  if (write && latency !== undefined) {
    // The outbox and partitions tables (bench/outbox.ts, bench/partitions.ts)
    // live in marked blocks of the same page; keep them.
    const path = new URL("../docs/performance.md", import.meta.url);
    const previous = await readFile(path, "utf8").catch(() => "");
    const blocks = [
      ...previous.matchAll(/<!-- ([a-z]+)-bench:start -->[\s\S]*?<!-- \1-bench:end -->/g),
    ].map((match) => match[0]);
    const outboxBlock = blocks.length === 0 ? undefined : blocks.join("\n\n");
    await writeFile(
      path,
      page({
        table,
        rows,
        skipped,
        latency,
        version: await brokerVersion(broker.url),
        brokerSource: brokerSources[broker.source],
      }) + (outboxBlock === undefined ? "" : `\n${outboxBlock}\n`),
    );
    console.log("wrote docs/performance.md");
  }
} finally {
  await postgres?.stop();
  await broker.stop();
}

function page(run: {
  table: string;
  rows: Row[];
  skipped: string[];
  latency: LatencyRow[];
  version: string;
  brokerSource: string;
}): string {
  const { p50Ms, p99Ms } = latencyTargets;
  const skippedNotes =
    run.skipped.length === 0 ? "" : `\n\n${run.skipped.map((note) => `- ${note}`).join("\n")}`;
  return `# Performance

Measured by \`npm run bench\` (that is, \`node bench/run.ts\`, ${rounds} rounds),
which writes this page; set \`RABBITMQ_URL\` to measure a broker you run, else
the run finds or starts one (see \`bench/run.ts\`). The last run used
${run.brokerSource}.

Each comparison runs warren and a baseline doing the same work against the
same broker in one process run: one unmeasured warm-up run of each, then
${rounds} rounds, each measuring both sides back to back and alternating which
goes first. The rates are medians; the ratio is the median of the rounds'
candidate/baseline ratios, so that a drift of the shared machine between
rounds hits both sides of a ratio alike. "met" means the ratio reaches the
target.

## Throughput

${run.table}${skippedNotes}

Scenarios:

${run.rows.map(({ comparison }) => `- **${comparison.name}**: ${comparison.description}.`).join("\n")}

## End-to-end latency

Targets for warren ([architecture.md](architecture.md#connections)): p50 ≤ ${p50Ms} ms and p99 ≤ ${p99Ms} ms at
1,000 msg/s. Messages are published at a steady 1,000 msg/s to a durable
classic queue on one connection and consumed (prefetch 1) on another;
latency runs from the publish call to the handler call. The sides rotate
which goes first each round; each figure is the median over the rounds
(max: the largest seen in any round).

${formatLatency(run.latency)}

## Environment of the last run

RabbitMQ ${run.version} on the same machine as the client, Node
${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "unknown"}).
The broker is the bottleneck: it runs at 100 % CPU in the throughput
scenarios, so absolute numbers say more about the machine than about warren;
the ratio is what to watch. Other work on the machine makes single runs
noisy; the alternation and the ratio of back-to-back runs are there to
absorb it.

## Why the numbers look the way they do

Why warren keeps up although it sets TCP_NODELAY (for low latency, see
[architecture.md](architecture.md#connections)) and does more per message (UUIDv7 message id, headers, a
window of unconfirmed messages, timeouts, metrics): with Nagle's algorithm
off, every pipelined publish would be its own TCP segment and syscall, which
measured here costs raw amqplib about 10 % of its throughput. warren corks
the socket on the first write of a tick and uncorks it on the next tick, so a
burst leaves as one write while a lone publish still leaves at once.

Why the bare-message baseline stays out of reach: the broker spends more on
the message warren must send ([architecture.md](architecture.md#message-properties-and-headers): \`mandatory\`,
\`messageId\` and \`timestamp\`; since issue #10 no \`type\` unless given and no
\`warren-attempt\` header on a first publish) than on a bare one. The row "cost of warren's message properties" measures that
with raw amqplib on both sides, no warren code involved; warren's own
overhead is the "pipelined publish" row, against amqplib sending the same
message. Closing the rest of the gap would mean sending less than the design
requires.

Why the consumer keeps up at prefetch 50 although it runs the handler
through the full runtime (decode, timeout, metrics, settle): acks made in one
tick leave as one \`basic.ack\` with \`multiple\` set, which is sound because a
lane settles its channel's deliveries one at a time and in order (see
src/consumer/delivery-channel.ts); the broker then handles one ack frame per
burst instead of one per message. At prefetch 1 every tick has one ack, so
nothing changes there.
`;
}
