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
    ms(r.durationMs),
  ].join(" | ");
});
console.log(
  [
    "| scenario | where | published | confirmed | handled | lost | dup. executions | dup. suppressed | dead-lettered | recovery p50 / p99 | max RSS (MB, per process) | unhandled | took |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((row) => `| ${row} |`),
  ].join("\n"),
);
