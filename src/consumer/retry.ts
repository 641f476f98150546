/**
 * The copies the runtime publishes for a failed delivery: a retry copy into
 * the tier queue `Q.retry.<delay>`, or a dead-letter copy into `Q.dlq`
 * (docs/architecture.md#names-and-arguments,
 * #message-properties-and-headers). Both go to the default exchange with the target queue
 * as routing key, so they reach exactly that queue and no other queue bound
 * to the original exchange. Both are mandatory: a missing target queue makes
 * the publish fail, and the runtime then requeues the original instead of
 * acking it.
 *
 * A copy keeps the original's body, properties and application headers, so a
 * handler sees the same message on every attempt. Of the broker-owned headers
 * it keeps only a well-formed `x-death` (delivery-headers.ts): the broker
 * itself dead-letters the copy out of its tier, and a malformed one crashes
 * that on RabbitMQ 3.10.8. Three properties are dropped on
 * purpose: `expiration` (a per-message TTL would cut a tier's delay short,
 * and would silently expire a message sitting in `Q.dlq`), `userId` (the
 * broker refuses a user-id that is not the publishing connection's user),
 * and `clusterId` (deprecated).
 */
import type { ConsumeMessage } from "amqplib";
import { copyProperties, HEADER } from "../headers.ts";
import type { Envelope } from "../publisher/envelope.ts";
import type { RetryPolicy, RetryTier } from "../topology/model.ts";
import { copyableHeaders, firstFailedAtOf, isBrokerOwned, originOf } from "./delivery-headers.ts";

/** Why a message was dead-lettered (`warren-reason`). */
export type DeadLetterReason =
  | "retries-exhausted"
  | "non-retryable"
  | "invalid-payload"
  | "undecodable"
  | "too-large";

/** Longest `warren-error-stack`, in bytes. */
export const MAX_STACK_BYTES = 4096;

/** Longest `warren-error-message`, in bytes. */
export const MAX_MESSAGE_BYTES = 4096;

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

function originHeaders(message: ConsumeMessage, queue: string): Record<string, unknown> {
  const origin = originOf(message);
  return {
    ...copyableHeaders(message.properties.headers),
    [HEADER.originalQueue]: queue,
    [HEADER.originalExchange]: origin.exchange,
    [HEADER.originalRoutingKey]: origin.routingKey,
  };
}

/**
 * The copy of a failed attempt for the tier queue: `warren-attempt + 1`, the
 * original exchange and routing key, and when the first failure happened.
 */
export function retryEnvelope(
  message: ConsumeMessage,
  tier: RetryTier,
  policy: RetryPolicy,
  nextAttempt: number,
  now: Date,
  extra: { uncountedRetries?: number | undefined } = {},
): Envelope {
  const headers = originHeaders(message, policy.queue);
  headers[HEADER.attempt] = nextAttempt;
  if (extra.uncountedRetries !== undefined) {
    headers[HEADER.uncountedRetries] = extra.uncountedRetries;
  }
  headers[HEADER.firstFailedAt] = firstFailedAtOf(message) ?? now.toISOString();
  return {
    exchange: "",
    routingKey: tier.queue,
    content: message.content,
    properties: copyProperties(message.properties, headers),
    mandatory: true,
  };
}

function describeError(error: unknown): { type: string; message: string; stack: string } {
  if (error instanceof Error) {
    return { type: error.name, message: error.message, stack: error.stack ?? "" };
  }
  return { type: typeof error, message: String(error), stack: "" };
}

/** The copy for `Q.dlq`, with every failure header of docs/architecture.md#message-properties-and-headers. */
export function deadLetterEnvelope(
  message: ConsumeMessage,
  policy: RetryPolicy,
  attempt: number,
  reason: DeadLetterReason,
  error: unknown,
  now: Date,
): Envelope {
  const failure = describeError(error);
  const failedAt = now.toISOString();
  const headers = originHeaders(message, policy.queue);
  headers[HEADER.attempt] = attempt;
  headers[HEADER.attempts] = attempt;
  headers[HEADER.reason] = reason;
  headers[HEADER.errorType] = failure.type;
  headers[HEADER.errorMessage] = truncateUtf8(failure.message, MAX_MESSAGE_BYTES);
  headers[HEADER.errorStack] = truncateUtf8(failure.stack, MAX_STACK_BYTES);
  headers[HEADER.firstFailedAt] = firstFailedAtOf(message) ?? failedAt;
  headers[HEADER.failedAt] = failedAt;
  return {
    exchange: "",
    routingKey: policy.deadLetterQueue,
    content: message.content,
    properties: copyProperties(message.properties, headers),
    mandatory: true,
  };
}

/** Longest `warren-error-message` on a reduced copy, in bytes. */
export const REDUCED_MESSAGE_BYTES = 1024;

const OWN_HEADERS = new Set<string>(Object.values(HEADER));

/**
 * A smaller copy of `envelope` for when the full one cannot be encoded (the
 * original's headers plus warren's overflow the client's encoding buffer):
 * the same body, properties and target, but of the headers only warren's own
 * and the validated broker-owned ones, no error stack, a shorter error
 * message, and `warren-headers-dropped` saying how many were left out.
 */
export function reducedEnvelope(envelope: Envelope): Envelope {
  const headers: Record<string, unknown> = {};
  let dropped = 0;
  for (const [name, value] of Object.entries(envelope.properties.headers ?? {})) {
    if (OWN_HEADERS.has(name) || isBrokerOwned(name)) headers[name] = value;
    else dropped++;
  }
  if (HEADER.errorStack in headers) headers[HEADER.errorStack] = "";
  const message = headers[HEADER.errorMessage];
  if (typeof message === "string") {
    headers[HEADER.errorMessage] = truncateUtf8(message, REDUCED_MESSAGE_BYTES);
  }
  headers[HEADER.headersDropped] = dropped;
  return { ...envelope, properties: { ...envelope.properties, headers } };
}
