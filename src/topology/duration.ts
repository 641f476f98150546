/**
 * Durations in a topology file are integers of milliseconds or strings made of
 * an integer and a unit (`500ms`, `10s`, `5m`, `1h`). Only whole numbers are
 * accepted so that every duration has one canonical spelling
 * ({@link formatDelay}), which is what retry tier names are made of: the same
 * delay always gives the same queue name, whichever way it was written.
 */
import { ErrorCode, TopologyError } from "../errors.ts";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_PATTERN = /^(-?\d+)(ms|s|m|h)$/;

/** The regular expression a duration string matches (for the JSON Schema). */
export const DURATION_STRING_PATTERN = "^\\d+(ms|s|m|h)$";

const HOW_TO_WRITE =
  "write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h";

/**
 * Why `value` is not a valid duration, or `undefined` when it is one.
 * The message starts with the value as written, e.g. `"10 sec" is not a duration: ...`.
 */
export function durationProblem(value: unknown): string | undefined {
  return toMilliseconds(value).problem;
}

/**
 * Parses a duration: an integer of milliseconds, or a string such as `500ms`,
 * `10s`, `5m`, `1h`.
 *
 * @returns the duration in milliseconds.
 * @throws {TopologyError} `WARREN_TOPOLOGY_INVALID` when the value is not a
 *   whole, non-negative duration.
 */
export function parseDuration(value: string | number): number {
  const { ms, problem } = toMilliseconds(value);
  if (problem !== undefined) throw new TopologyError(ErrorCode.WARREN_TOPOLOGY_INVALID, problem);
  return ms;
}

/**
 * The canonical spelling of a duration, as used in retry tier names: the
 * largest unit that divides it exactly (`1h`, `1m`, `10s`, `500ms`, `1500ms`).
 *
 * @param ms - a non-negative integer of milliseconds.
 */
export function formatDelay(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`formatDelay expects a non-negative integer of milliseconds, got ${ms}`);
  }
  if (ms > 0) {
    for (const unit of ["h", "m", "s"] as const) {
      if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
    }
  }
  return `${ms}ms`;
}

function toMilliseconds(value: unknown): { ms: number; problem?: string } {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      return {
        ms: Number.NaN,
        problem: `${value} is not a whole number of milliseconds; ${HOW_TO_WRITE}`,
      };
    }
    if (value < 0)
      return { ms: Number.NaN, problem: `${value} is negative; a duration is 0 or more` };
    return { ms: value };
  }
  if (typeof value === "string") {
    const match = DURATION_PATTERN.exec(value);
    if (match === null) {
      return {
        ms: Number.NaN,
        problem: `${JSON.stringify(value)} is not a duration; ${HOW_TO_WRITE}`,
      };
    }
    const amount = Number(match[1]);
    const ms = amount * UNIT_MS[match[2] as Unit];
    if (amount < 0) {
      return {
        ms: Number.NaN,
        problem: `${JSON.stringify(value)} is negative; a duration is 0 or more`,
      };
    }
    if (!Number.isSafeInteger(ms)) {
      return { ms: Number.NaN, problem: `${JSON.stringify(value)} is too long a duration` };
    }
    return { ms };
  }
  return {
    ms: Number.NaN,
    problem: `expected a duration, got ${describeValue(value)}; ${HOW_TO_WRITE}`,
  };
}

/** How a value found in a file reads in a message: strings quoted, `null` as "nothing". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}
