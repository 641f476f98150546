/**
 * Errors of the transactional outbox (codes `WARREN_OUTBOX_*` in the map of
 * src/errors.ts, catalogued in docs/errors.md). A message that fails the
 * registry or `maxBytes` is refused with the publisher's own `PublishError`
 * codes, since it is the same check; bad options throw
 * `WARREN_INVALID_OPTIONS` as everywhere.
 */
import { WarrenError } from "../errors.ts";

/** The outbox's table is missing, PostgreSQL failed, or the outbox was misused. */
export class OutboxError extends WarrenError {}
