/**
 * What a benchmark scenario is, and how run.ts compares two of them.
 *
 * A {@link Comparison} pits warren (the candidate) against a baseline doing
 * the same work with raw amqplib. run.ts alternates their runs (candidate,
 * baseline, candidate, ...) so that drifts of the shared broker and machine
 * hit both sides alike, then reports medians and their ratio. Each module of
 * scenarios (publish.ts, consume.ts, idempotency.ts) exports a list of
 * comparisons; latency.ts measures latency percentiles instead of rates.
 */

/** Shared settings of one benchmark run. */
export interface BenchContext {
  /** AMQP URL of the broker under test. */
  url: string;
  /** A fresh name for this run's queue. */
  queueName(): string;
  /**
   * Fraction of each scenario's default message count to run: 1, or less
   * for a quick smoke run (`--quick`), whose figures are not for the docs.
   */
  scale: number;
  /** PostgreSQL URL for the guard scenarios; undefined when none could be had. */
  databaseUrl: string | undefined;
}

/** `count` scaled by the context's `scale`, at least `minimum`. */
export function scaled(context: BenchContext, count: number, minimum = 100): number {
  return Math.max(minimum, Math.round(count * context.scale));
}

/** Outcome of one run of a scenario. */
export interface Measurement {
  /** Messages processed. */
  messages: number;
  /** Wall time of the measured part, in seconds. */
  seconds: number;
  /** What else the run counted, for the docs (e.g. database round trips per message). */
  note?: string;
}

/** One measurable workload. */
export interface Scenario {
  /** Short label, e.g. "warren publish". */
  label: string;
  run(context: BenchContext): Promise<Measurement>;
}

/** A candidate and its baseline, doing the same work. */
export interface Comparison {
  /** Row name in docs/performance.md. */
  name: string;
  /** What is measured, in one sentence (units included). */
  description: string;
  candidate: Scenario;
  baseline: Scenario;
  /**
   * Ratio candidate/baseline the project aims for (at least this). Omitted
   * where the comparison measures a cost that has no target.
   */
  target?: number;
  /** A resource without which the comparison is skipped (with a note). */
  needs?: "postgres";
}

/** Messages per second of a measurement. */
export function rate(measurement: Measurement): number {
  return measurement.messages / measurement.seconds;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
