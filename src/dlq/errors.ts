/**
 * Errors of `warren dlq` and the dead-letter functions behind it. Codes are
 * catalogued in docs/errors.md. Broker connection failures keep the shared
 * `WARREN_BROKER_UNREACHABLE` / `WARREN_BROKER_AUTH` codes (as a
 * `ConnectionError`); everything specific to dead-letter queues is a
 * {@link DeadLetterError}.
 */
import { type ErrorCode, WarrenError, type WarrenErrorOptions } from "../errors.ts";

/** Counts carried by a {@link DeadLetterError} from a replay that stopped part way. */
export interface ReplayProgress {
  /** Dead letters moved to `Q` (confirmed by the broker and removed from `Q.dlq`) before the failure. */
  replayed: number;
  /** Dead letters read from `Q.dlq` before the failure (moved, skipped by the filter, or the failed one). */
  scanned: number;
}

/** A dead-letter queue operation failed or was refused. */
export class DeadLetterError extends WarrenError {
  /** How far a replay got before it stopped; undefined for other operations. */
  readonly progress: ReplayProgress | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: WarrenErrorOptions & { progress?: ReplayProgress } = {},
  ) {
    super(code, message, options);
    this.progress = options.progress;
  }
}
