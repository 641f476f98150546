/**
 * Errors of `warren console` (codes in the one map of src/errors.ts, scope
 * `console`, catalogued in docs/errors.md). Broker and dead-letter failures
 * keep their own codes (`WARREN_MANAGEMENT_*`, `WARREN_DLQ_*`); these are
 * about the console itself: its listening socket, its files and the
 * requests it refuses. Bad options are the shared `WARREN_INVALID_OPTIONS`.
 */
import { WarrenError } from "../errors.ts";

/** The console refused a request, or could not start. */
export class ConsoleError extends WarrenError {}
