/**
 * The names warren derives from a work queue `Q` (docs/architecture.md#names-and-arguments). They are
 * fixed conventions: the runtime, `plan` and `warren dlq` find these queues by
 * name alone.
 */
import { formatDelay } from "./duration.ts";

/** `Q.dlq`: where every message the runtime or the broker gives up on ends. */
export function deadLetterQueueName(queue: string): string {
  return `${queue}.dlq`;
}

/** `Q.retry.<delay>`, e.g. `orders.fulfil.retry.10s`: a TTL queue that returns messages to `Q`. */
export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${formatDelay(delayMs)}`;
}

/** AMQP short strings (exchange and queue names) hold at most 255 bytes. */
export const MAX_NAME_BYTES = 255;
