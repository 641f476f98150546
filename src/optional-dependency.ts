/**
 * Optional peer dependencies (`pg`, `testcontainers`, `@opentelemetry/api`) are imported lazily,
 * by the feature that needs them, so a user who never uses that feature
 * need not install them. When one is missing, the feature fails with a
 * `WARREN_DEPENDENCY_MISSING` error that names the package and the feature
 * instead of Node's bare `ERR_MODULE_NOT_FOUND`.
 */
import { ErrorCode, WarrenError } from "./errors.ts";

/** The optional packages warren can use. */
export type OptionalPackage = "pg" | "testcontainers" | "@opentelemetry/api";

function isMissing(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    error instanceof Error &&
    error.message.includes(`'${name}'`)
  );
}

/** The error for a missing optional package. */
export function dependencyMissing(name: OptionalPackage, feature: string, cause?: unknown) {
  return new WarrenError(
    ErrorCode.WARREN_DEPENDENCY_MISSING,
    `${feature} needs the optional package "${name}", which is not installed: run \`npm install --save-dev ${name}\`.`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Imports `pg`, or throws `WARREN_DEPENDENCY_MISSING` naming `feature`.
 * Other import failures are rethrown as they are.
 */
export async function importPg(feature: string): Promise<typeof import("pg")> {
  try {
    return await import("pg");
  } catch (error) {
    throw isMissing(error, "pg") ? dependencyMissing("pg", feature, error) : error;
  }
}

/** Imports `testcontainers`, or throws `WARREN_DEPENDENCY_MISSING` naming `feature`. */
export async function importTestcontainers(
  feature: string,
): Promise<typeof import("testcontainers")> {
  try {
    return await import("testcontainers");
  } catch (error) {
    throw isMissing(error, "testcontainers")
      ? dependencyMissing("testcontainers", feature, error)
      : error;
  }
}

/** Imports `@opentelemetry/api`, or throws `WARREN_DEPENDENCY_MISSING` naming `feature`. */
export async function importOpenTelemetry(
  feature: string,
): Promise<typeof import("@opentelemetry/api")> {
  try {
    return await import("@opentelemetry/api");
  } catch (error) {
    throw isMissing(error, "@opentelemetry/api")
      ? dependencyMissing("@opentelemetry/api", feature, error)
      : error;
  }
}
