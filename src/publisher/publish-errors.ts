/**
 * The publisher's errors, one constructor per code (catalogued in
 * docs/errors.md). Each message names the exchange, routing key and message
 * id, says whether the broker may have the message, and what to do.
 */
import { ErrorCode, PublishError } from "../errors.ts";
import type { Envelope } from "./envelope.ts";

/** `exchange "orders", routing key "order.created", messageId "…"`. */
export function describeTarget(envelope: Envelope): string {
  const exchange =
    envelope.exchange === "" ? "the default exchange" : `exchange "${envelope.exchange}"`;
  const id = envelope.properties.messageId;
  return `publish to ${exchange} with routing key "${envelope.routingKey}"${id === undefined ? "" : ` (messageId ${id})`}`;
}

const notSent = "The message was not sent";
const inDoubt =
  "The broker may have the message anyway (in doubt): retrying can duplicate it, so consumers must be idempotent";

export const publishErrors = {
  nacked: (envelope: Envelope) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_NACKED,
      `${describeTarget(envelope)} was refused by the broker (basic.nack), typically a queue at its max-length with overflow reject-publish. Slow the producer, scale the consumers or raise the queue's maxLength, then retry.`,
    ),
  unroutable: (envelope: Envelope, reply: string) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_UNROUTABLE,
      `${describeTarget(envelope)} was returned as unroutable (${reply}): no queue is bound for it. Declare the binding (warren topology apply), fix the routing key or exchange, or publish with mandatory: false where dropping it is intended.`,
    ),
  timeout: (envelope: Envelope, timeoutMs: number, written: boolean) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_TIMEOUT,
      written
        ? `${describeTarget(envelope)} was not confirmed within ${timeoutMs} ms. ${inDoubt}. Check broker load, or raise timeoutMs.`
        : `${describeTarget(envelope)} waited ${timeoutMs} ms for room among the in-flight publishes. ${notSent}. Publish more slowly, or raise timeoutMs or maxInFlight.`,
      { inDoubt: written },
    ),
  connectionLost: (envelope: Envelope, reason: string) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_CONNECTION_LOST,
      `${describeTarget(envelope)} was written but ${reason} before its confirm arrived. ${inDoubt}. warren reconnects by itself; retry the publish.`,
      { inDoubt: true },
    ),
  blocked: (envelope: Envelope, reason: string | undefined, waitedMs: number) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_BLOCKED,
      `${describeTarget(envelope)}: the broker blocks publishing on this connection (${reason ?? "resource alarm"})${waitedMs > 0 ? ` and did not unblock within ${waitedMs} ms` : ""}. ${notSent}. Free broker memory or disk (drain queues, add consumers), or set blockedTimeoutMs to wait.`,
    ),
  tooLarge: (envelope: Envelope, maxBytes: number) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_TOO_LARGE,
      `${describeTarget(envelope)}: the body has ${envelope.content.length} bytes, more than maxBytes (${maxBytes}). ${notSent}. Send a reference to the data (e.g. an object-store key) instead, or raise maxBytes.`,
    ),
  unserialisable: (routingKey: string, cause: unknown) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_INVALID_PAYLOAD,
      `publish with routing key "${routingKey}": the payload cannot be serialised as JSON (${cause instanceof Error ? cause.message : String(cause)}). Send plain data: no BigInt, functions or cycles.`,
      { cause },
    ),
  unencodable: (envelope: Envelope, cause: unknown) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_INVALID_PAYLOAD,
      `${describeTarget(envelope)}: its properties or headers cannot be encoded (${cause instanceof Error ? cause.message : String(cause)}). ${notSent}. Use strings, numbers, booleans, buffers, arrays or plain objects as header values.`,
      { cause },
    ),
  notConnected: (envelope: Envelope, detail: string) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_NOT_CONNECTED,
      `${describeTarget(envelope)}: not connected to the broker (${detail}). ${notSent}. warren keeps reconnecting; check the broker, or raise timeoutMs or maxQueued to ride out longer outages.`,
    ),
  backlogFull: (envelope: Envelope, maxQueued: number) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_BACKLOG_FULL,
      `${describeTarget(envelope)}: ${maxQueued} publishes already wait for room (maxQueued). ${notSent}. Await publishes before starting more, or raise maxQueued.`,
    ),
  closed: (routingKey: string) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_CLOSED,
      `publish with routing key "${routingKey}": the client is closing or closed. Publish before calling close().`,
    ),
} as const;
