/**
 * Options resolved once. Every public options object (connect, publisher,
 * consume, the idempotency stores and guards, the dlq functions, the health
 * server, apply/plan) goes through {@link resolveOptions} at the boundary:
 * a zod schema checks it and fills in the defaults, and the result is frozen.
 * Code behind the boundary takes only the resolved type and never re-checks.
 *
 * A bad value throws one code, `WARREN_INVALID_OPTIONS`, whose message names
 * the option's path (`publisher.maxInFlight`), the value given and what is
 * allowed. The schema helpers below carry the "allowed" text as the message
 * of every check, so the thrown message is built from the schema itself.
 */
import { type ZodType, z } from "zod";
import { ErrorCode, WarrenError, type WarrenErrorOptions } from "./errors.ts";

/** An error class of one recovery scope, e.g. `ConsumeError`. */
export type ScopedErrorClass = new (
  code: typeof ErrorCode.WARREN_INVALID_OPTIONS,
  message: string,
  options?: WarrenErrorOptions,
) => WarrenError;

/** Where a set of options is resolved, for the error message. */
export interface OptionsSite {
  /** Who takes the options, e.g. `connect()` or `consume("orders")`. */
  context: string;
  /** Prefix of every option path, e.g. `idempotency`. @default none */
  prefix?: string;
  /** Class thrown, so callers keep catching their component's errors. @default WarrenError */
  errorClass?: ScopedErrorClass;
}

/** An integer in `[min, max]`; its message says so. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const allowed =
    max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return z
    .number({ error: allowed })
    .int({ error: allowed })
    .min(min, { error: allowed })
    .max(max, { error: allowed });
}

/** A finite number >= `min`. */
export function numberAtLeast(min: number) {
  const allowed = `a number >= ${min}`;
  return z.number({ error: allowed }).min(min, { error: allowed });
}

/** A non-empty string. */
export function nonEmptyString() {
  const allowed = "a non-empty string";
  return z.string({ error: allowed }).min(1, { error: allowed });
}

/** A function (handlers, clocks, key pickers); passed through as is. */
export function fn<F>() {
  return z.custom<F>((value) => typeof value === "function", { error: "a function" });
}

/** Any value the schema does not inspect (loggers, pools, registries). */
export function opaque<T>() {
  return z.custom<T>(() => true);
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The invalid-options error for one option. */
export function invalidOption(
  site: OptionsSite,
  path: string,
  value: unknown,
  allowed: string,
): WarrenError {
  const ErrorClass = site.errorClass ?? WarrenError;
  return new ErrorClass(
    ErrorCode.WARREN_INVALID_OPTIONS,
    `${site.context}: option ${path} must be ${allowed}, got ${describeValue(value)}`,
  );
}

/**
 * Parses `input` with `schema` and freezes the result (one level deep, and
 * every nested plain object the schema produced).
 *
 * @throws the site's error class with code `WARREN_INVALID_OPTIONS`, naming
 *   the first bad option.
 */
export function resolveOptions<S extends ZodType>(
  schema: S,
  input: unknown,
  site: OptionsSite,
): Readonly<z.output<S>> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const keys = (issue?.path ?? []).map(String);
    const path = [...(site.prefix === undefined ? [] : [site.prefix]), ...keys].join(".");
    throw invalidOption(
      site,
      path === "" ? "(the options object)" : path,
      valueAt(input, issue?.path ?? []),
      issue?.message ?? "valid",
    );
  }
  return freezeParsed(result.data, input);
}

/**
 * Freezes the objects zod built (the options and their nested option
 * groups) but never a value passed through as is (a logger, a pool, the
 * caller's `socketOptions`): freezing those would change the caller's
 * objects.
 */
function freezeParsed<T>(value: T, original: unknown): T {
  if (value === null || typeof value !== "object" || value === original) return value;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  for (const [key, child] of Object.entries(value)) {
    freezeParsed(child, valueAt(original, [key]));
  }
  return Object.freeze(value);
}
