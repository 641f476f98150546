/**
 * Turns `publish(routingKey, payload, options)` into an {@link Envelope}
 * (docs/architecture.md#message-properties-and-headers): a JSON body and the properties every warren message
 * carries. Warren's own headers have no `x-` prefix, since the broker owns
 * that namespace:
 *
 * - `contentType: application/json`, `deliveryMode: 2` (persistent);
 * - `messageId`: a UUIDv7 unless given, so ids sort by creation time;
 * - `timestamp`: seconds since the epoch (the AMQP unit);
 * - `type` and `correlationId` only when given (every delivery carries the
 *   routing key already, and each property costs the broker work per message);
 * - header `traceparent` (W3C trace context) when given in options or headers.
 *
 * No `warren-attempt` header: its absence means attempt 1, as for a message
 * from any other client; only the runtime's retry copies carry it (2, 3, ...).
 */
import type { Envelope } from "./envelope.ts";
import { uuidv7 } from "./uuidv7.ts";

export { uuidv7 };

/** Header carrying the delivery attempt: absent on a first publish, 2, 3, ... on retry copies. */
export const ATTEMPT_HEADER = "warren-attempt";

/** Header carrying the W3C trace context of the publishing span. */
export const TRACEPARENT_HEADER = "traceparent";

/** Per-call options of `publish`. Every field is optional. */
export interface PublishOptions {
  /** Exchange to publish to, instead of the client's `publishExchange`. */
  exchange?: string;
  /** Message id; a fresh UUIDv7 when omitted. Consumers deduplicate on it. */
  messageId?: string;
  /** Correlation id, e.g. the id of the request this message answers. */
  correlationId?: string;
  /** The `type` property; not sent when omitted. */
  type?: string;
  /**
   * W3C `traceparent` of the current span, sent as the `traceparent` header.
   * A `traceparent` in `headers` is used when this is omitted.
   */
  traceparent?: string;
  /**
   * Application headers. Headers named `warren-*` are owned by warren and
   * `x-*` by the broker; a `warren-attempt` given here is dropped, since
   * a first publish is attempt 1, which the header's absence means.
   */
  headers?: Record<string, unknown>;
  /**
   * Time allowed for the whole publish (waiting for room in the window or
   * for a connection, then for the broker's confirm), in milliseconds.
   * @default the publisher's `timeoutMs` (10000)
   */
  timeoutMs?: number;
  /**
   * Reject with `WARREN_PUBLISH_UNROUTABLE` when no queue takes the message.
   * Set to false only where dropping unroutable messages is intended.
   * @default true
   */
  mandatory?: boolean;
  /**
   * Deliver the message after this delay (`"10m"`, or milliseconds). It must
   * be one of the delays the topology declares on the exchange
   * (`delays: [10m]`), and the client needs the topology; otherwise the
   * publish fails with `WARREN_PUBLISH_DELAY_UNDECLARED`. The promise
   * resolves once the broker holds the message in the wait queue.
   */
  delay?: string | number;
  /**
   * AMQP priority, an integer 0-255. Honoured by queues with `priority` in
   * the topology (classic only); with the topology, a priority above the
   * max of a queue the message reaches, or on a queue without priority, is
   * refused with `WARREN_PUBLISH_INVALID_OPTIONS`.
   */
  priority?: number;
  /**
   * Drop the message if no consumer has taken it after this long (`"5m"`, or
   * milliseconds): AMQP per-message `expiration`. The broker dead-letters it
   * to `Q.dlq` with reason `expired`. Cannot be combined with `delay`
   * (`WARREN_PUBLISH_INVALID_OPTIONS`).
   */
  expiresIn?: string | number;
}

/**
 * Builds the envelope of one publish. Throws a `TypeError` (a `cause` for
 * `WARREN_PUBLISH_INVALID_PAYLOAD`) when the payload is not serialisable.
 */
export function buildEnvelope(
  exchange: string,
  routingKey: string,
  payload: unknown,
  options: PublishOptions,
): Envelope {
  const json = JSON.stringify(payload);
  if (json === undefined) {
    throw new TypeError(`a ${typeof payload} has no JSON representation`);
  }
  const properties: Envelope["properties"] = {
    contentType: "application/json",
    deliveryMode: 2,
    messageId: options.messageId ?? uuidv7(),
    timestamp: Math.floor(Date.now() / 1000),
  };
  // Headers only when there are some: an empty table still costs encoding.
  let headers: Record<string, unknown> | undefined;
  if (options.headers !== undefined) {
    headers = { ...options.headers };
    delete headers[ATTEMPT_HEADER];
  }
  if (options.traceparent !== undefined) {
    headers ??= {};
    headers[TRACEPARENT_HEADER] = options.traceparent;
  }
  if (headers !== undefined) properties.headers = headers;
  if (options.type !== undefined) properties.type = options.type;
  if (options.correlationId !== undefined) properties.correlationId = options.correlationId;
  const envelope: Envelope = {
    exchange,
    routingKey,
    content: Buffer.from(json),
    properties,
  };
  if (options.mandatory !== undefined) envelope.mandatory = options.mandatory;
  if (options.timeoutMs !== undefined) envelope.timeoutMs = options.timeoutMs;
  return envelope;
}
