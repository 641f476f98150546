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
 * A copy keeps the original's body, properties and headers, so a handler sees
 * the same message on every attempt. Three properties are dropped on
 * purpose: `expiration` (a per-message TTL would cut a tier's delay short,
 * and would silently expire a message sitting in `Q.dlq`), `userId` (the
 * broker refuses a user-id that is not the publishing connection's user),
 * and `clusterId` (deprecated).
 */
import type { ConsumeMessage } from "amqplib";
import { copyProperties } from "../headers.ts";
import type { Envelope } from "../publisher/envelope.ts";
import type { RetryPolicy, RetryTier } from "../topology/model.ts";
import { firstFailedAtOf, HEADER, originOf } from "./context.ts";

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
    ...message.properties.headers,
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
): Envelope {
  const headers = originHeaders(message, policy.queue);
  headers[HEADER.attempt] = nextAttempt;
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
