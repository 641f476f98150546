/**
 * Errors of `warren dlq` and the dead-letter functions behind it. Codes are
 * catalogued in docs/errors.md. Broker connection failures keep the shared
 * `WARREN_BROKER_UNREACHABLE` / `WARREN_BROKER_AUTH` codes (as a
 * `ConnectionError`); everything specific to dead-letter queues is a
 * {@link DeadLetterError}.
 */
import { ErrorCode, WarrenError, type WarrenErrorOptions } from "../errors.ts";

/** Stable codes of {@link DeadLetterError}. */
export const DeadLetterErrorCode = Object.freeze({
  /** `Q.dlq` does not exist in the vhost. */
  notFound: ErrorCode.WARREN_DLQ_NOT_FOUND,
  /** The work queue `Q` a replay would publish to does not exist. */
  targetMissing: ErrorCode.WARREN_DLQ_TARGET_MISSING,
  /** A replay stopped: the broker refused, returned or did not confirm a copy. */
  replayFailed: ErrorCode.WARREN_DLQ_REPLAY_FAILED,
  /** A purge was asked for without the explicit confirmation (`yes` / `--yes`). */
  purgeUnconfirmed: ErrorCode.WARREN_DLQ_PURGE_UNCONFIRMED,
  /** An option is out of range (`limit`, `previewBytes`, an empty queue name); the code shared by every options object. */
  invalidOptions: ErrorCode.WARREN_INVALID_OPTIONS,
} as const);

export type DeadLetterErrorCode = (typeof DeadLetterErrorCode)[keyof typeof DeadLetterErrorCode];

/** Counts carried by a {@link DeadLetterError} from a replay that stopped part way. */
export interface ReplayProgress {
  /** Dead letters moved to `Q` (confirmed by the broker and removed from `Q.dlq`) before the failure. */
  replayed: number;
  /** Dead letters read from `Q.dlq` before the failure (moved, skipped by the filter, or the failed one). */
  scanned: number;
}

/** A dead-letter queue operation failed or was refused. */
export class DeadLetterError extends WarrenError {
  declare readonly code: DeadLetterErrorCode;
  /** How far a replay got before it stopped; undefined for other operations. */
  readonly progress: ReplayProgress | undefined;

  constructor(
    code: DeadLetterErrorCode,
    message: string,
    options: WarrenErrorOptions & { progress?: ReplayProgress } = {},
  ) {
    super(code, message, options);
    this.progress = options.progress;
  }
}
