/**
 * Just enough PromQL reading to check that queries in ops/ (alert rules, the
 * Grafana dashboard, autoscaling manifests) name series that exist, with
 * labels they have. Not a parser: it finds metric names, the labels of
 * their selectors, and the labels of `by`/`on`/`ignoring`/`without` clauses.
 */

/** What one query uses. */
export interface QueryUse {
  /** Metric names in the query. */
  metrics: string[];
  /** Label names in the selector of each metric (`name{label=...}`). */
  selectorLabels: Map<string, string[]>;
  /** Label names of grouping and matching clauses. */
  groupingLabels: string[];
}

const METRIC = /\b((?:warren|rabbitmq)_[a-zA-Z0-9_]+)\b(\{[^}]*\})?/g;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g;
const GROUPING = /\b(?:by|on|ignoring|without)\s*\(([^)]*)\)/g;

/** The metrics and labels `query` uses; string literals are skipped. */
export function queryUse(query: string): QueryUse {
  // Drop the contents of string literals (label values, regexes) first.
  const code = query.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const metrics = new Set<string>();
  const selectorLabels = new Map<string, string[]>();
  for (const match of code.matchAll(METRIC)) {
    const name = match[1]!;
    metrics.add(name);
    const labels = [...(match[2] ?? "").matchAll(MATCHER)].map((m) => m[1]!);
    selectorLabels.set(name, [...(selectorLabels.get(name) ?? []), ...labels]);
  }
  const groupingLabels = [...code.matchAll(GROUPING)].flatMap((m) =>
    m[1]!
      .split(",")
      .map((label) => label.trim())
      .filter((label) => label !== ""),
  );
  return { metrics: [...metrics], selectorLabels, groupingLabels };
}
