/**
 * What a handler learns about its message besides the payload, and how the
 * runtime reads warren's own headers (docs/architecture.md#message-properties-and-headers) off a delivery.
 *
 * A message published by another client carries no `warren-` headers: it is
 * on attempt 1 and its original exchange and routing key are those of the
 * delivery. A retry copy comes back from its tier through the default
 * exchange with the queue name as routing key, so the original ones travel
 * in headers.
 */
import type { ConsumeMessage, MessagePropertyHeaders } from "amqplib";
import type { Logger } from "pino";

import { HEADER } from "../headers.ts";
import { attemptOf, firstFailedAtOf, originOf } from "./delivery-headers.ts";

export { attemptOf, firstFailedAtOf, HEADER, originOf };

/** Everything a handler gets besides the payload. */
export interface MessageContext {
  /** The queue the message was consumed from. */
  readonly queue: string;
  /** AMQP headers as received (including `x-death` and `warren-` ones). */
  readonly headers: Readonly<MessagePropertyHeaders>;
  readonly messageId: string | undefined;
  readonly correlationId: string | undefined;
  /** The exchange the message was first published to ("" for the default one). */
  readonly exchange: string;
  /** The routing key the message was first published with (kept across retries). */
  readonly routingKey: string;
  /** 1 on the first delivery, then 2, 3, ... on each retry copy. */
  readonly attempt: number;
  /**
   * The broker's redelivered flag: this copy was delivered before without
   * being acked (consumer crash, connection loss, requeue).
   */
  readonly redelivered: boolean;
  /** Child logger bound to queue, messageId and attempt. */
  readonly logger: Logger;
  /** Aborted when the handler's `timeoutMs` passes. */
  readonly signal: AbortSignal;
  /**
   * The scope an idempotency guard hands to the work (a transactional store
   * puts its transaction here); undefined without a guard.
   */
  readonly scope: unknown;
  /** The raw amqplib delivery, for what the fields above do not cover. */
  readonly raw: ConsumeMessage;
}

/**
 * The fields every message-level log line carries: messageId, attempt, and
 * correlationId when the message has one, and traceId while tracing is on
 * (the queue comes from the consumer's child logger).
 */
export function messageLogFields(
  message: ConsumeMessage,
  attempt: number,
): Record<string, unknown> {
  const { messageId, correlationId } = message.properties;
  const fields: Record<string, unknown> = { messageId, attempt };
  if (correlationId !== undefined) fields.correlationId = correlationId;
  const traceId = (message as Traced)[TRACE_ID];
  if (traceId !== undefined) fields.traceId = traceId;
  return fields;
}

/** Where the runtime notes a delivery's trace id while its consumer span runs. */
export const TRACE_ID: unique symbol = Symbol("warren.traceId");

/** A delivery handled inside a consumer span. */
export type Traced = ConsumeMessage & { [TRACE_ID]?: string };

const noHeaders: Readonly<MessagePropertyHeaders> = Object.freeze({});

/**
 * A handler's context. A class rather than an object literal with getters:
 * V8 builds a literal with accessors slowly, and one is made per message.
 * The child logger and the signal are only made when read.
 */
class DeliveryContext implements MessageContext {
  readonly queue: string;
  readonly headers: Readonly<MessagePropertyHeaders>;
  readonly messageId: string | undefined;
  readonly correlationId: string | undefined;
  readonly exchange: string;
  readonly routingKey: string;
  readonly attempt: number;
  readonly redelivered: boolean;
  readonly scope: unknown;
  readonly raw: ConsumeMessage;
  readonly #signal: () => AbortSignal;
  readonly #parentLogger: Logger;
  #logger: Logger | undefined;

  constructor(
    queue: string,
    message: ConsumeMessage,
    attempt: number,
    signal: () => AbortSignal,
    parentLogger: Logger,
    scope: unknown,
  ) {
    const { properties, fields } = message;
    const origin = originOf(message);
    this.queue = queue;
    this.headers = properties.headers ?? noHeaders;
    this.messageId = typeof properties.messageId === "string" ? properties.messageId : undefined;
    this.correlationId =
      typeof properties.correlationId === "string" ? properties.correlationId : undefined;
    this.exchange = origin.exchange;
    this.routingKey = origin.routingKey;
    this.attempt = attempt;
    this.redelivered = fields.redelivered;
    this.scope = scope;
    this.raw = message;
    this.#signal = signal;
    this.#parentLogger = parentLogger;
  }

  get logger(): Logger {
    this.#logger ??= this.#parentLogger.child(messageLogFields(this.raw, this.attempt));
    return this.#logger;
  }

  get signal(): AbortSignal {
    return this.#signal();
  }
}

/** Builds a handler's context. */
export function createContext(
  queue: string,
  message: ConsumeMessage,
  attempt: number,
  signal: () => AbortSignal,
  parentLogger: Logger,
  scope: unknown,
): MessageContext {
  return new DeliveryContext(queue, message, attempt, signal, parentLogger, scope);
}
