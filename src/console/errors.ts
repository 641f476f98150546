/**
 * Errors of `warren console` (codes catalogued in docs/errors.md). Broker
 * and dead-letter failures keep their own codes (`WARREN_MANAGEMENT_*`,
 * `WARREN_DLQ_*`); these are about the console itself: its options, its
 * listening socket and the requests it refuses.
 */
import { WarrenError, type WarrenErrorOptions } from "../errors.ts";

/** Stable codes of {@link ConsoleError}. */
export const ConsoleErrorCode = Object.freeze({
  /** A console option is out of range (port, host, interval). */
  invalidOptions: "WARREN_CONSOLE_INVALID_OPTIONS",
  /** The server could not listen (port taken, address not on this machine). */
  listenFailed: "WARREN_CONSOLE_LISTEN_FAILED",
  /** The page's files are missing from the installed package. */
  assetsMissing: "WARREN_CONSOLE_ASSETS_MISSING",
  /** A request without the console's token, from another origin, or for another host. */
  forbidden: "WARREN_CONSOLE_FORBIDDEN",
  /** A request the console cannot parse (bad JSON, unknown fields, wrong types). */
  badRequest: "WARREN_CONSOLE_BAD_REQUEST",
  /** A request names a queue that is not one of the console's work queues. */
  unknownQueue: "WARREN_CONSOLE_UNKNOWN_QUEUE",
} as const);

export type ConsoleErrorCode = (typeof ConsoleErrorCode)[keyof typeof ConsoleErrorCode];

/** The console refused an option or a request, or could not start. */
export class ConsoleError extends WarrenError {
  declare readonly code: ConsoleErrorCode;

  constructor(code: ConsoleErrorCode, message: string, options: WarrenErrorOptions = {}) {
    super(code, message, options);
  }
}
