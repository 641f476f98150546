/**
 * One dead letter as an operator sees it: warren's failure headers
 * (docs/architecture.md#message-properties-and-headers), the broker's `x-death` when the broker dead-lettered the
 * message itself (delivery limit, TTL, overflow), and a preview of the body.
 *
 * AMQP header values arrive as strings, numbers, buffers (long strings from
 * some clients), nested tables and arrays; {@link plainHeaders} turns them
 * into JSON-safe values so that `--json` output is exact and stable.
 */
import type { GetMessage } from "amqplib";
import { HEADER } from "../headers.ts";

/** One entry of the broker's `x-death` header (most recent first). */
export interface DeathRecord {
  /** The queue the message was dead-lettered from. */
  queue: string;
  /** `rejected`, `expired`, `maxlen` or `delivery_limit`. */
  reason: string;
  /** How many times it was dead-lettered from this queue for this reason. */
  count: number;
  /** The exchange it had been published to. */
  exchange: string;
  routingKeys: string[];
  /** When, as an ISO date (the broker records whole seconds). */
  time: string | undefined;
}

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

/** A header value as plain JSON. */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (isTimestamp(value)) return new Date(value.value * 1000).toISOString();
  if (value instanceof Date) return value.toISOString();
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
  const value = plain(headers[name]);
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function integer(headers: Headers, name: string): number | undefined {
  const value = plain(headers[name]);
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) ? n : undefined;
}

/** The broker's `x-death` entries, most recent first; undefined when absent. */
export function deathRecords(headers: Headers): DeathRecord[] | undefined {
  const raw = headers["x-death"];
  if (!Array.isArray(raw)) return undefined;
  return raw.map((entry: unknown): DeathRecord => {
    const e = plain(entry) as Record<string, unknown>;
    const keys = e["routing-keys"];
    return {
      queue: typeof e.queue === "string" ? e.queue : "",
      reason: typeof e.reason === "string" ? e.reason : "",
      count: typeof e.count === "number" ? e.count : 0,
      exchange: typeof e.exchange === "string" ? e.exchange : "",
      routingKeys: Array.isArray(keys) ? keys.filter((k) => typeof k === "string") : [],
      time: typeof e.time === "string" ? e.time : undefined,
    };
  });
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
    exchange: text(headers, HEADER.originalExchange) ?? death?.exchange,
    routingKey: text(headers, HEADER.originalRoutingKey) ?? death?.routingKeys[0],
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
    attempts: integer(headers, HEADER.attempts),
    firstFailedAt: text(headers, HEADER.firstFailedAt),
    failedAt: text(headers, HEADER.failedAt),
    originalExchange: origin.exchange,
    originalRoutingKey: origin.routingKey,
    replayCount: integer(headers, HEADER.replayCount) ?? 0,
    xDeath,
    deliveryCount: integer(headers, "x-delivery-count"),
    headers: plainHeaders(headers),
    bodyBytes: message.content.length,
    ...preview(message.content, previewBytes),
  };
}
