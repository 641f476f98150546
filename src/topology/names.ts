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

/**
 * `X.delay.<delay>`, e.g. `orders.delay.10m`: the fanout exchange and the TTL
 * queue (same name; exchanges and queues are separate namespaces) that hold a
 * message published to exchange `X` with that delay, then dead-letter it back
 * into `X` with its own routing key.
 */
export function delayName(exchange: string, delayMs: number): string {
  return `${exchange}.delay.${formatDelay(delayMs)}`;
}

/**
 * `Q.p<i>`, e.g. `orders.fulfil.p0`: partition `i` (0-based) of a
 * partitioned queue `Q` (docs/topology.md#partitioned-queues).
 */
export function partitionQueueName(queue: string, index: number): string {
  return `${queue}.p${index}`;
}

/**
 * `Q.partitions`: the consistent-hash exchange in front of the partitions of
 * `Q`. The queue's bindings bind this exchange (exchange to exchange), and it
 * spreads messages over `Q.p0 … Q.p<N-1>` by the hash of their key.
 */
export function partitionExchangeName(queue: string): string {
  return `${queue}.partitions`;
}

/**
 * `Q.consumers`: an empty queue that every process consuming the
 * partitioned queue `Q` subscribes to. Its consumer count is the number of
 * those processes, which the partitions' own counts cannot give: for a
 * single-active-consumer queue the broker counts only the active one.
 */
export function presenceQueueName(queue: string): string {
  return `${queue}.consumers`;
}

/** AMQP short strings (exchange and queue names) hold at most 255 bytes. */
export const MAX_NAME_BYTES = 255;
