/**
 * Checked readers for the header values of a delivery. Headers come from
 * whoever published the message (another client, a shovel, a person with
 * the management UI), so every value is untrusted: a reader returns a value
 * of the right type and range, or says the header is absent. A bad value
 * never throws and never reaches the arithmetic, the logs or a copy as is.
 *
 * Broker-owned headers are read here too. A copy that warren publishes (a
 * retry or a dead letter) carries the original's application headers, but of
 * the broker-owned ones only those that pass a check, rebuilt with the AMQP
 * types the broker writes itself: RabbitMQ 3.10.8 crashes while
 * dead-lettering a message whose `x-death` is malformed (a tier's TTL expiry
 * is such a dead-lettering), and the message never returns.
 */
import type { ConsumeMessage, MessagePropertyHeaders } from "amqplib";
import { HEADER } from "../headers.ts";

/** Longest exchange name or routing key AMQP allows (a short string), in bytes. */
const MAX_SHORT_STRING_BYTES = 255;

/**
 * Highest `warren-attempt` taken as is. One below the largest safe integer,
 * so that the next attempt is still exact; anything above is forged.
 */
export const MAX_ATTEMPT = Number.MAX_SAFE_INTEGER - 1;

/**
 * A header's own value. amqplib decodes a table into a plain object, so a
 * header named `__proto__` becomes that object's prototype: reading through
 * the prototype chain would find values nobody sent under that name.
 */
function own(headers: MessagePropertyHeaders | undefined, name: string): unknown {
  return headers !== undefined && Object.hasOwn(headers, name) ? headers[name] : undefined;
}

/** What a reader found in a header. */
export type HeaderValue<T> =
  | { state: "absent" }
  | { state: "valid"; value: T }
  | { state: "invalid"; detail: string };

/** A short, loggable description of any header value. */
export function describeHeaderValue(value: unknown): string {
  if (Buffer.isBuffer(value)) return `a byte array of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (value === null) return "null";
  if (typeof value === "object") return "a table";
  if (typeof value === "string") {
    return value.length > 40 ? `the string "${value.slice(0, 40)}..."` : `the string "${value}"`;
  }
  return `${typeof value} ${String(value)}`;
}

// Shared, never changed: every message without the header reads the same.
const ABSENT: HeaderValue<never> = Object.freeze({ state: "absent" });

/**
 * `warren-attempt` of a delivery: a whole number from 1 to {@link MAX_ATTEMPT},
 * given as an integer or a string of digits. Negative numbers, 0, fractions,
 * NaN, infinities, numbers outside the safe range and any other type are
 * invalid.
 */
export function readAttempt(headers: MessagePropertyHeaders | undefined): HeaderValue<number> {
  const raw = own(headers, HEADER.attempt);
  if (raw === undefined) return ABSENT;
  let n: number | undefined;
  if (typeof raw === "number") n = raw;
  else if (typeof raw === "string" && /^[0-9]{1,16}$/.test(raw)) n = Number(raw);
  if (n !== undefined && Number.isSafeInteger(n) && n >= 1 && n <= MAX_ATTEMPT) {
    return { state: "valid", value: n };
  }
  return {
    state: "invalid",
    detail: `${HEADER.attempt} is ${describeHeaderValue(raw)}; expected a whole number from 1 to ${MAX_ATTEMPT}`,
  };
}

/** The attempt number of a delivery: a valid `warren-attempt`, else 1. */
export function attemptOf(message: ConsumeMessage): number {
  const read = readAttempt(message.properties.headers);
  return read.state === "valid" ? read.value : 1;
}

/** A header that must be a short string (exchange, routing key): a string or UTF-8 bytes. */
function shortStringHeader(
  headers: MessagePropertyHeaders | undefined,
  name: string,
): string | undefined {
  const value = own(headers, name);
  let text: string | undefined;
  if (typeof value === "string") text = value;
  else if (Buffer.isBuffer(value) && value.length <= MAX_SHORT_STRING_BYTES) {
    text = value.toString("utf8");
  }
  if (text === undefined || Buffer.byteLength(text) > MAX_SHORT_STRING_BYTES) return undefined;
  return text;
}

/**
 * Where the message was first published: warren's origin headers of a copy
 * when they hold valid names, else the delivery's own exchange and routing key.
 */
export function originOf(message: ConsumeMessage): { exchange: string; routingKey: string } {
  const headers = message.properties.headers;
  return {
    exchange: shortStringHeader(headers, HEADER.originalExchange) ?? message.fields.exchange,
    routingKey: shortStringHeader(headers, HEADER.originalRoutingKey) ?? message.fields.routingKey,
  };
}

/** First failure time carried by a retry copy: an ISO-8601 time, else undefined. */
export function firstFailedAtOf(message: ConsumeMessage): string | undefined {
  const value = own(message.properties.headers, HEADER.firstFailedAt);
  if (typeof value !== "string" || value.length > 40) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/**
 * Headers the broker writes or reads (RabbitMQ's dead-lettering, quorum
 * delivery counting, federation and shovels, AMQP 1.0) and the sender-selected
 * distribution headers `CC` and `BCC`, which would route a copy published to
 * the default exchange into further queues.
 */
const BROKER_HEADER =
  /^(x-death$|x-first-death-|x-last-death-|x-delivery-count$|x-received-from$|x-opt-|CC$|BCC$)/;

/** True for a header the broker owns (see {@link BROKER_HEADER}). */
export function isBrokerOwned(name: string): boolean {
  return BROKER_HEADER.test(name);
}

/** Reasons RabbitMQ writes into `x-death`. */
const DEATH_REASONS = new Set(["rejected", "expired", "maxlen", "delivery_limit"]);

/** Longest `x-death` kept on a copy; RabbitMQ keeps one entry per queue and reason. */
const MAX_DEATH_ENTRIES = 64;

/** One `x-death` entry as AMQP-typed values, the way the broker writes it. */
type TypedDeath = Record<string, unknown>;

function typedDeath(entry: unknown): TypedDeath | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined;
  if (Buffer.isBuffer(entry)) return undefined;
  const e = entry as Record<string, unknown>;
  const { queue, reason, exchange, count } = e;
  const keys = e["routing-keys"];
  const time = e.time as { "!"?: unknown; value?: unknown } | undefined;
  const ok =
    typeof queue === "string" &&
    Buffer.byteLength(queue) <= MAX_SHORT_STRING_BYTES &&
    typeof reason === "string" &&
    DEATH_REASONS.has(reason) &&
    typeof exchange === "string" &&
    Buffer.byteLength(exchange) <= MAX_SHORT_STRING_BYTES &&
    Number.isSafeInteger(count) &&
    (count as number) >= 1 &&
    Array.isArray(keys) &&
    keys.length <= 64 &&
    keys.every((k) => typeof k === "string" && Buffer.byteLength(k) <= MAX_SHORT_STRING_BYTES) &&
    typeof time === "object" &&
    time !== null &&
    time["!"] === "timestamp" &&
    Number.isSafeInteger(time.value) &&
    (time.value as number) >= 0;
  if (!ok) return undefined;
  const typed: TypedDeath = {
    count: { "!": "long", value: count },
    reason,
    queue,
    time: { "!": "timestamp", value: time.value },
    exchange,
    "routing-keys": keys,
  };
  const expiration = e["original-expiration"];
  if (typeof expiration === "string" && /^[0-9]{1,19}$/.test(expiration)) {
    typed["original-expiration"] = expiration;
  }
  return typed;
}

/**
 * The broker-owned headers a copy may carry: `x-death` when every entry is
 * well formed (rebuilt with the broker's own types), with the
 * `x-first-death-*` names that go with it. A malformed `x-death` drops all
 * of them; the other broker-owned headers are never copied.
 */
export function validatedBrokerHeaders(
  headers: MessagePropertyHeaders | undefined,
): Record<string, unknown> {
  const raw = own(headers, "x-death");
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_DEATH_ENTRIES) return {};
  const deaths: TypedDeath[] = [];
  for (const entry of raw) {
    const typed = typedDeath(entry);
    if (typed === undefined) return {};
    deaths.push(typed);
  }
  const out: Record<string, unknown> = { "x-death": deaths };
  for (const name of ["x-first-death-queue", "x-first-death-exchange", "x-first-death-reason"]) {
    const value = shortStringHeader(headers, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The headers a copy starts from: the original's application headers, without
 * the broker-owned ones, plus the broker-owned ones that passed their check.
 */
export function copyableHeaders(
  headers: MessagePropertyHeaders | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (headers === undefined) return out;
  for (const name of Object.keys(headers)) {
    if (!isBrokerOwned(name)) out[name] = headers[name];
  }
  return Object.assign(out, validatedBrokerHeaders(headers));
}

/** Longest header text read as is (a stack is cut to 4 KiB by warren; room for other clients). */
export const MAX_HEADER_TEXT_BYTES = 16 * 1024;

/**
 * A header that should hold text: a string, UTF-8 bytes (long strings from
 * some clients) or a number (written as digits). Anything else, or text over
 * `maxBytes` bytes, is invalid.
 */
export function readText(
  headers: MessagePropertyHeaders | undefined,
  name: string,
  maxBytes = MAX_HEADER_TEXT_BYTES,
): HeaderValue<string> {
  const raw = own(headers, name);
  if (raw === undefined) return { state: "absent" };
  let text: string | undefined;
  if (typeof raw === "string") text = raw;
  else if (Buffer.isBuffer(raw) && raw.length <= maxBytes) text = raw.toString("utf8");
  else if (typeof raw === "number" && Number.isFinite(raw)) text = String(raw);
  if (text !== undefined && Buffer.byteLength(text) <= maxBytes)
    return { state: "valid", value: text };
  return {
    state: "invalid",
    detail: `${name} is ${describeHeaderValue(raw)}; expected text of at most ${maxBytes} bytes`,
  };
}

/**
 * A header that should hold a count (`warren-attempts`, `warren-replay-count`,
 * `x-delivery-count`): a whole number from `min` to {@link MAX_ATTEMPT}, as an
 * integer, a typed AMQP integer (`{ "!": "long", value }`) or a string of
 * digits.
 */
export function readCount(
  headers: MessagePropertyHeaders | undefined,
  name: string,
  min = 0,
): HeaderValue<number> {
  const raw = own(headers, name);
  if (raw === undefined) return { state: "absent" };
  const n = countValue(raw);
  if (n !== undefined && n >= min && n <= MAX_ATTEMPT) return { state: "valid", value: n };
  return {
    state: "invalid",
    detail: `${name} is ${describeHeaderValue(raw)}; expected a whole number from ${min} to ${MAX_ATTEMPT}`,
  };
}

function countValue(raw: unknown): number | undefined {
  let value = raw;
  // A typed AMQP integer as the publishing side writes it; any other table is no count.
  if (typeof value === "object" && value !== null) {
    const typed = value as { "!"?: unknown; value?: unknown };
    value =
      typeof typed["!"] === "string" && Object.hasOwn(typed, "value") ? typed.value : undefined;
  }
  if (typeof value === "bigint") {
    return value <= BigInt(MAX_ATTEMPT) && value >= 0n ? Number(value) : undefined;
  }
  if (typeof value === "string" && /^[0-9]{1,16}$/.test(value)) value = Number(value);
  return typeof value === "number" && Number.isSafeInteger(value) ? value : undefined;
}

/**
 * A header that should hold a time: an ISO-8601 string (at most 40
 * characters) or an AMQP timestamp (whole seconds). Returned as an ISO string.
 */
export function readTime(
  headers: MessagePropertyHeaders | undefined,
  name: string,
): HeaderValue<string> {
  const raw = own(headers, name);
  if (raw === undefined) return { state: "absent" };
  const iso = timeValue(raw);
  if (iso !== undefined) return { state: "valid", value: iso };
  return {
    state: "invalid",
    detail: `${name} is ${describeHeaderValue(raw)}; expected an ISO-8601 time or an AMQP timestamp`,
  };
}

function timeValue(raw: unknown): string | undefined {
  let ms: number | undefined;
  if (typeof raw === "string" && raw.length <= 40) ms = Date.parse(raw);
  else if (
    typeof raw === "object" &&
    raw !== null &&
    (raw as { "!"?: unknown })["!"] === "timestamp"
  ) {
    const seconds = (raw as { value?: unknown }).value;
    if (Number.isSafeInteger(seconds) && (seconds as number) >= 0) ms = (seconds as number) * 1000;
  }
  if (ms === undefined || Number.isNaN(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** One well-formed `x-death` entry as plain values. */
export interface DeathEntry {
  queue: string;
  reason: string;
  count: number;
  exchange: string;
  routingKeys: string[];
  /** ISO time (the broker records whole seconds). */
  time: string;
}

/**
 * The broker's `x-death` entries, most recent first, when the header is
 * present and every entry is well formed (the checks of
 * {@link validatedBrokerHeaders}); `invalid` for any other value.
 */
export function readDeaths(headers: MessagePropertyHeaders | undefined): HeaderValue<DeathEntry[]> {
  const raw = own(headers, "x-death");
  if (raw === undefined) return { state: "absent" };
  const deaths = Array.isArray(raw) && raw.length <= MAX_DEATH_ENTRIES ? raw.map(typedDeath) : [];
  if (deaths.length === 0 || deaths.some((d) => d === undefined)) {
    return {
      state: "invalid",
      detail: `x-death is ${describeHeaderValue(raw)}; expected up to ${MAX_DEATH_ENTRIES} well-formed death records`,
    };
  }
  return {
    state: "valid",
    value: (deaths as TypedDeath[]).map((d) => ({
      queue: d.queue as string,
      reason: d.reason as string,
      count: (d.count as { value: number }).value,
      exchange: d.exchange as string,
      routingKeys: d["routing-keys"] as string[],
      time: new Date((d.time as { value: number }).value * 1000).toISOString(),
    })),
  };
}

/** The value a reader found, or undefined when the header is absent or invalid. */
export function validOrUndefined<T>(read: HeaderValue<T>): T | undefined {
  return read.state === "valid" ? read.value : undefined;
}
