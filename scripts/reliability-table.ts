/**
 * Prints the reports of the last `npm run test:reliability` as the markdown
 * table of docs/reliability.md. Reads $WARREN_RELIABILITY_REPORTS (default
 * $TMPDIR/warren-reliability/*.json).
 *
 *   node scripts/reliability-table.ts
 */
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = process.env.WARREN_RELIABILITY_REPORTS ?? join(tmpdir(), "warren-reliability");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort();
const ms = (v: number | null) => (v === null ? "—" : `${(v / 1000).toFixed(1)} s`);
const rows = files.map((file) => {
  const r = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const rss = Object.values(r.maxRssMb as Record<string, number>).filter((v) => v > 0);
  return [
    r.scenario,
    r.where,
    r.published,
    r.confirmed,
    r.handled,
    r.lost,
    r.duplicateExecutions,
    r.duplicatesSuppressed,
    r.deadLettered,
    `${ms(r.recoveryP50Ms)} / ${ms(r.recoveryP99Ms)}`,
    `${Math.min(...rss)}-${Math.max(...rss)}`,
    r.unhandled.length === 0 ? "none" : r.unhandled.length,
    r.drainMs === undefined ? "—" : ms(r.drainMs),
    ms(r.durationMs),
  ].join(" | ");
});
// What the consumers logged at warn, per scenario: how warren saw the fault.
const warnings = files.flatMap((file) => {
  const r = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const entries = Object.entries((r.consumerWarnings ?? {}) as Record<string, number>);
  if (entries.length === 0) return [];
  return [`- ${r.scenario}: ${entries.map(([message, n]) => `${n}× \`${message}\``).join("; ")}`];
});
// Copies the broker held in a retry tier's dead-letter hop, and what released them.
const released = files.flatMap((file) => {
  const r = JSON.parse(readFileSync(join(dir, file), "utf8"));
  return ((r.heldCopiesReleased ?? []) as string[]).map((what) => `- ${r.scenario}: ${what}`);
});
console.log(
  [
    "| scenario | where | published | confirmed | handled | lost | dup. executions | dup. suppressed | dead-lettered | recovery p50 / p99 | max RSS (MB, per process) | unhandled | drain | took |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((row) => `| ${row} |`),
    ...(warnings.length === 0 ? [] : ["", "Consumer warnings:", "", ...warnings]),
    ...(released.length === 0 ? [] : ["", "Held copies released:", "", ...released]),
  ].join("\n"),
);
