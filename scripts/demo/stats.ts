/** Small numeric helpers of the demo: percentiles and metric scraping. */

/** The p-th percentile (0-100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** `12.3 ms` or `1.24 s`. */
export function formatMs(ms: number): string {
  if (Number.isNaN(ms)) return "-";
  return ms < 1_000 ? `${ms.toFixed(1)} ms` : `${(ms / 1_000).toFixed(2)} s`;
}

/** Sums `warren_messages_consumed_total` by outcome from a Prometheus text page. */
export function consumedByOutcome(metrics: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const match of metrics.matchAll(/^warren_messages_consumed_total\{([^}]*)\} (\S+)$/gm)) {
    const outcome = /outcome="([^"]+)"/.exec(match[1] ?? "")?.[1];
    if (outcome !== undefined) totals[outcome] = (totals[outcome] ?? 0) + Number(match[2]);
  }
  return totals;
}
