/**
 * One dead letter as an operator sees it: warren's failure headers
 * (docs/architecture.md#message-properties-and-headers), the broker's `x-death` when the broker dead-lettered the
 * message itself (delivery limit, TTL, overflow), and a preview of the body.
 *
 * AMQP header values arrive as strings, numbers, buffers (long strings from
 * some clients), nested tables and arrays; {@link plainHeaders} turns them
 * into JSON-safe values so that `--json` output is exact and stable.
 *
 * Anyone can publish into `Q.dlq` or forge warren's headers, so every field
 * is read through the checked readers of consumer/delivery-headers.ts: a
 * value of the wrong type or range (a negative or huge `warren-attempts`, an
 * `x-death` that is not a list of death records, a header named `__proto__`)
 * leaves the field undefined, and the raw value is still shown in `headers`.
 */
import type { GetMessage } from "amqplib";
import {
  type DeathEntry,
  readCount,
  readDeaths,
  readText,
  readTime,
  validOrUndefined,
} from "../consumer/delivery-headers.ts";
import { HEADER } from "../headers.ts";

/**
 * One entry of the broker's `x-death` header (most recent first): the queue
 * it was dead-lettered from, why (`rejected`, `expired`, `maxlen` or
 * `delivery_limit`), how many times, the exchange and routing keys it had
 * been published with, and when (ISO; the broker records whole seconds).
 */
export type DeathRecord = DeathEntry;

/** A message in `Q.dlq`, with the headers that say why it is there. */
export interface DeadLetter {
  /** 0-based position in `Q.dlq` when it was read (0 is the head, the oldest). */
  position: number;
  messageId: string | undefined;
  correlationId: string | undefined;
  /** The AMQP `type` property (warren sets the routing key unless given). */
  type: string | undefined;
  /** When it was first published (the `timestamp` property), as an ISO date. */
  publishedAt: string | undefined;
  /**
   * Why it is here: `warren-reason` (`retries-exhausted`, `non-retryable`,
   * `invalid-payload`, `undecodable`, `too-large`), else the reason of the
   * broker's latest `x-death` entry (e.g. `delivery_limit`).
   */
  reason: string | undefined;
  /** `warren-error-type`: the class of the error the handler threw. */
  errorType: string | undefined;
  /** `warren-error-message`. */
  errorMessage: string | undefined;
  /** `warren-error-stack` (at most 4 KiB). */
  errorStack: string | undefined;
  /** `warren-attempts`: how many attempts were made. */
  attempts: number | undefined;
  /** `warren-first-failed-at`. */
  firstFailedAt: string | undefined;
  /** `warren-failed-at`: when it was dead-lettered. */
  failedAt: string | undefined;
  /** `warren-original-exchange`, else the exchange of the broker's death record. */
  originalExchange: string | undefined;
  /** `warren-original-routing-key`, else the routing key of the broker's death record. */
  originalRoutingKey: string | undefined;
  /** `warren-replay-count`: how many times it was replayed before. */
  replayCount: number;
  /** The broker's `x-death` header, when the broker dead-lettered it. */
  xDeath: DeathRecord[] | undefined;
  /**
   * The quorum queue's `x-delivery-count` (how often `Q.dlq` delivered it
   * without an ack; each `dlq list` adds one). Absent on classic queues.
   */
  deliveryCount: number | undefined;
  /** Every header, JSON-safe (buffers as UTF-8 strings, timestamps as ISO dates). */
  headers: Record<string, unknown>;
  /** The body's size in bytes. */
  bodyBytes: number;
  /** The start of the body: UTF-8 text, or base64 when it is not valid UTF-8. */
  bodyPreview: string;
  bodyEncoding: "utf8" | "base64";
  /** True when the body is longer than the preview. */
  bodyTruncated: boolean;
}

type Headers = Record<string, unknown>;

function isTimestamp(value: unknown): value is { "!": "timestamp"; value: number } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { "!"?: unknown })["!"] === "timestamp" &&
    typeof (value as { value?: unknown }).value === "number"
  );
}

function isoOr(date: Date, fallback: unknown): unknown {
  return Number.isNaN(date.getTime()) ? fallback : date.toISOString();
}

/** A header value as plain JSON. */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  // A forged timestamp can lie outside the range of a Date: shown as its number.
  if (isTimestamp(value)) return isoOr(new Date(value.value * 1000), value.value);
  if (value instanceof Date) return isoOr(value, String(value));
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    if ("!" in value && "value" in value) return plain((value as { value: unknown }).value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The headers as plain JSON values. */
export function plainHeaders(headers: Headers | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, plain(v)]));
}

function text(headers: Headers, name: string): string | undefined {
  return validOrUndefined(readText(headers, name));
}

/** An exchange name or routing key: AMQP short strings, at most 255 bytes. */
function shortText(headers: Headers, name: string): string | undefined {
  return validOrUndefined(readText(headers, name, 255));
}

function count(headers: Headers, name: string, min: number): number | undefined {
  return validOrUndefined(readCount(headers, name, min));
}

/**
 * The broker's `x-death` entries, most recent first; undefined when absent
 * or not a list of well-formed death records.
 */
export function deathRecords(headers: Headers): DeathRecord[] | undefined {
  return validOrUndefined(readDeaths(headers));
}

/**
 * Where the message was first published: warren's origin headers, else the
 * broker's death record for the work queue (the oldest one as a fallback).
 */
export function originOf(
  headers: Headers,
  deaths: DeathRecord[] | undefined,
  workQueue: string,
): { exchange: string | undefined; routingKey: string | undefined } {
  const death = deaths?.find((d) => d.queue === workQueue) ?? deaths?.at(-1);
  return {
    exchange: shortText(headers, HEADER.originalExchange) ?? death?.exchange,
    routingKey: shortText(headers, HEADER.originalRoutingKey) ?? death?.routingKeys[0],
  };
}

function preview(content: Buffer, maxBytes: number) {
  const head = content.subarray(0, maxBytes);
  const truncated = content.length > maxBytes;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    // `stream: true` tolerates a character cut at the preview's end.
    return {
      bodyPreview: decoder.decode(head, { stream: truncated }),
      bodyEncoding: "utf8" as const,
      bodyTruncated: truncated,
    };
  } catch {
    return {
      bodyPreview: head.toString("base64"),
      bodyEncoding: "base64" as const,
      bodyTruncated: truncated,
    };
  }
}

/** Reads a message fetched from `Q.dlq` into a {@link DeadLetter}. */
export function toDeadLetter(
  message: GetMessage,
  position: number,
  workQueue: string,
  previewBytes: number,
): DeadLetter {
  const p = message.properties;
  const headers: Headers = p.headers ?? {};
  const xDeath = deathRecords(headers);
  const origin = originOf(headers, xDeath, workQueue);
  const timestamp = typeof p.timestamp === "number" ? p.timestamp : undefined;
  return {
    position,
    messageId: typeof p.messageId === "string" ? p.messageId : undefined,
    correlationId: typeof p.correlationId === "string" ? p.correlationId : undefined,
    type: typeof p.type === "string" ? p.type : undefined,
    // AMQP timestamps are seconds; warren's publisher writes them that way too.
    publishedAt: timestamp === undefined ? undefined : new Date(timestamp * 1000).toISOString(),
    reason: text(headers, HEADER.reason) ?? xDeath?.[0]?.reason,
    errorType: text(headers, HEADER.errorType),
    errorMessage: text(headers, HEADER.errorMessage),
    errorStack: text(headers, HEADER.errorStack),
    attempts: count(headers, HEADER.attempts, 1),
    firstFailedAt: validOrUndefined(readTime(headers, HEADER.firstFailedAt)),
    failedAt: validOrUndefined(readTime(headers, HEADER.failedAt)),
    originalExchange: origin.exchange,
    originalRoutingKey: origin.routingKey,
    replayCount: count(headers, HEADER.replayCount, 0) ?? 0,
    xDeath,
    deliveryCount: count(headers, "x-delivery-count", 0),
    headers: plainHeaders(headers),
    bodyBytes: message.content.length,
    ...preview(message.content, previewBytes),
  };
}
