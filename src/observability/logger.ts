/**
 * warren logs through pino. Callers inject their own logger (warren uses child
 * loggers of it, one per component and queue); without one, warren logs at
 * `warn` to stderr, so a library never floods an application's stdout.
 */
import { type Logger, pino } from "pino";

/** The caller's logger, or warren's quiet default. */
export function resolveLogger(logger: Logger | undefined): Logger {
  return (
    logger ??
    pino({ name: "warren", level: process.env.WARREN_LOG_LEVEL ?? "warn" }, pino.destination(2))
  );
}
