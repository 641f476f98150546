/**
 * Turns `publish(routingKey, payload, options)` into an {@link Envelope}
 * (docs/architecture.md#message-properties-and-headers): a JSON body and the properties every warren message
 * carries. Warren's own headers have no `x-` prefix, since the broker owns
 * that namespace:
 *
 * - `contentType: application/json`, `deliveryMode: 2` (persistent);
 * - `messageId`: a UUIDv7 unless given, so ids sort by creation time;
 * - `timestamp`: seconds since the epoch (the AMQP unit);
 * - `type`: the routing key unless given;
 * - `correlationId` when given;
 * - header `traceparent` (W3C trace context) when given in options or headers;
 * - header `warren-attempt: 1`, counted up by the consumer runtime's retries.
 */
import { randomUUID } from "node:crypto";
import type { Envelope } from "./envelope.ts";

/** Header carrying the delivery attempt (1 on the first delivery). */
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
  /** The `type` property; the routing key when omitted. */
  type?: string;
  /**
   * W3C `traceparent` of the current span, sent as the `traceparent` header.
   * A `traceparent` in `headers` is used when this is omitted.
   */
  traceparent?: string;
  /**
   * Application headers. Headers named `warren-*` are owned by warren and
   * `x-*` by the broker; `warren-attempt` is always set to 1 here.
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
  const headers: Record<string, unknown> = { ...options.headers, [ATTEMPT_HEADER]: 1 };
  if (options.traceparent !== undefined) headers[TRACEPARENT_HEADER] = options.traceparent;
  const properties: Envelope["properties"] = {
    contentType: "application/json",
    deliveryMode: 2,
    messageId: options.messageId ?? uuidv7(),
    timestamp: Math.floor(Date.now() / 1000),
    type: options.type ?? routingKey,
    headers,
  };
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

let lastMs = -1;
let lastHex = "";
let counter = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, then
 * random bits, so ids sort by creation time and index well. Within one
 * millisecond the counter (seeded at random below 0x800 on each new
 * millisecond) grows by one per id, so ids made in order sort in order
 * (RFC 9562 §6.2, method 1); when it runs out, or the clock steps back, the
 * timestamp is carried forward instead, so order is never broken. The random
 * bits come from a v4 UUID (Node batches its entropy, which keeps this
 * fast); the variant bits of v4 and v7 are the same.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  // random: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx
  const random = randomUUID();
  if (nowMs > lastMs) {
    lastMs = nowMs;
    lastHex = nowMs.toString(16).padStart(12, "0");
    counter = Number.parseInt(random.slice(15, 18), 16) & 0x7ff;
  } else if (++counter > 0xfff) {
    lastMs += 1;
    lastHex = lastMs.toString(16).padStart(12, "0");
    counter = 0;
  }
  const count = counter.toString(16).padStart(3, "0");
  return `${lastHex.slice(0, 8)}-${lastHex.slice(8, 12)}-7${count}-${random.slice(19)}`;
}
