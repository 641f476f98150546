/**
 * The message headers warren owns (docs/architecture.md#message-properties-and-headers), in one place for the
 * publisher, the consumer runtime and `warren dlq`. They carry no `x-`
 * prefix: the broker owns those.
 */
import type { MessageProperties, Options } from "amqplib";

export const HEADER = Object.freeze({
  /** 1 on the first delivery; set on every retry copy. */
  attempt: "warren-attempt",
  /**
   * Retries that did not use up an attempt (`RetryLaterError` with
   * `countsAsAttempt: false`); set only on such retry copies.
   */
  uncountedRetries: "warren-uncounted-retries",
  // On a dead-lettered copy:
  attempts: "warren-attempts",
  reason: "warren-reason",
  errorType: "warren-error-type",
  errorMessage: "warren-error-message",
  errorStack: "warren-error-stack",
  firstFailedAt: "warren-first-failed-at",
  failedAt: "warren-failed-at",
  originalQueue: "warren-original-queue",
  originalExchange: "warren-original-exchange",
  originalRoutingKey: "warren-original-routing-key",
  /**
   * On a reduced copy only: how many of the original's application headers
   * were left out because the full copy could not be encoded.
   */
  headersDropped: "warren-headers-dropped",
  // On a copy replayed from a dead-letter queue:
  replayCount: "warren-replay-count",
  replayedAt: "warren-replayed-at",
  replayedFrom: "warren-replayed-from",
  previousFailure: "warren-previous-failure",
});

const COPIED_PROPERTIES = [
  "contentType",
  "contentEncoding",
  "priority",
  "correlationId",
  "replyTo",
  "messageId",
  "timestamp",
  "type",
  "appId",
] as const;

/**
 * Publish properties for a copy of a received message (a retry, a dead
 * letter, a replay): the original's properties with new `headers`, always
 * persistent. Per-message TTL (`expiration`) and `userId` are left out: a
 * copy must not expire in a retry tier, and the broker checks `userId`
 * against the connection's user, which may differ.
 */
export function copyProperties(
  original: MessageProperties,
  headers: Record<string, unknown>,
): Options.Publish {
  const properties: Options.Publish = { headers, persistent: true };
  const copied = properties as Record<string, unknown>;
  for (const name of COPIED_PROPERTIES) {
    if (original[name] !== undefined) copied[name] = original[name];
  }
  return properties;
}
