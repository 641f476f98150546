/**
 * OpenTelemetry traces for publish and consume, behind an optional peer
 * dependency. `@opentelemetry/api` is imported only when a client is created
 * with `tracing` on (`loadTracing`, at `connect`), so an application without
 * it loads nothing and its publish and delivery paths check one `undefined`.
 *
 * - `publish` runs in a PRODUCER span (`publish <exchange>`) that ends on the
 *   broker's confirm, and injects the span's context into the message
 *   headers (`traceparent`, `tracestate`) with the global propagator (W3C
 *   trace context unless the application set another).
 * - A delivery is handled in a CONSUMER span (`process <queue>`) whose
 *   parent is the context extracted from those headers; the handler runs
 *   with it active, so the application's own spans nest under it.
 * - Retry and dead-letter copies keep the original's headers, so every
 *   attempt of a message is a child of the same producer span: one trace
 *   shows the publish, each failed attempt and the last one.
 *
 * Attributes follow the OpenTelemetry messaging semantic conventions:
 * `messaging.system`, `messaging.destination.name`,
 * `messaging.operation.type` / `.name`, `messaging.message.id`,
 * `messaging.message.conversation_id`, `messaging.message.body.size`, and
 * `messaging.rabbitmq.destination.routing_key`.
 */
import type { ConsumeMessage } from "amqplib";
import { importOpenTelemetry } from "../optional-dependency.ts";
import type { Envelope } from "../publisher/envelope.ts";

type OtelApi = typeof import("@opentelemetry/api");
type TracerProvider = import("@opentelemetry/api").TracerProvider;
type Span = import("@opentelemetry/api").Span;

/**
 * An OpenTelemetry `TracerProvider`, typed by shape so that warren's
 * published types do not require `@opentelemetry/api` to be installed.
 */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): unknown;
}

/** The `tracing` option of `connect`. */
export interface TracingOptions {
  /**
   * The provider to take the tracer from (an OpenTelemetry `TracerProvider`).
   * @default the global one (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProviderLike;
}

/** What the publisher and the consumer runtime call when tracing is on. */
export interface Tracing {
  /** Runs `send` in a producer span; the envelope's headers get the span context. */
  publish(envelope: Envelope, send: () => Promise<void>): Promise<void>;
  /** Runs `handle` in a consumer span whose parent is the message's context. */
  consume<T>(
    message: ConsumeMessage,
    queue: string,
    attempt: number,
    handle: (span: DeliverySpan) => Promise<T>,
  ): Promise<T>;
}

/** The consumer span of one delivery, as the runtime sees it. */
export interface DeliverySpan {
  readonly traceId: string;
  /**
   * Records what the runtime did (`warren.outcome`: acked, retried,
   * dead_lettered, duplicate, requeued) and, when the handler failed, its
   * error as the span's status.
   */
  outcome(outcome: string, error?: unknown): void;
}

const TRACER_NAME = "warren";

/** A header value as a string (amqplib hands some back as Buffers). */
function headerText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return undefined;
}

/**
 * Imports `@opentelemetry/api` and returns the hooks. Throws
 * `WARREN_DEPENDENCY_MISSING` when the package is not installed.
 */
export async function loadTracing(options: TracingOptions = {}): Promise<Tracing> {
  const api = await importOpenTelemetry("connect({ tracing })");
  return createTracing(api, options);
}

type Context = import("@opentelemetry/api").Context;
type Carrier = Record<string, unknown>;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * W3C trace context (`traceparent`, `tracestate`) for when the application
 * registered no propagator: the API's default propagator does nothing, and
 * a message must carry its context whatever the SDK setup.
 */
function w3cFallback(api: OtelApi) {
  const { trace, createTraceState } = api;
  return {
    inject(ctx: Context, carrier: Carrier): void {
      const span = trace.getSpanContext(ctx);
      if (span === undefined || !trace.isSpanContextValid(span)) return;
      const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
      carrier.traceparent = `00-${span.traceId}-${span.spanId}-${flags}`;
      const state = span.traceState?.serialize();
      if (state) carrier.tracestate = state;
    },
    extract(ctx: Context, carrier: Carrier): Context {
      const match = TRACEPARENT.exec(headerText(carrier.traceparent)?.trim() ?? "");
      if (match === null) return ctx;
      const state = headerText(carrier.tracestate);
      return trace.setSpanContext(ctx, {
        traceId: match[1]!,
        spanId: match[2]!,
        traceFlags: Number.parseInt(match[3]!, 16),
        isRemote: true,
        ...(state ? { traceState: createTraceState(state) } : {}),
      });
    },
  };
}

function createTracing(api: OtelApi, options: TracingOptions): Tracing {
  const { context, propagation, trace, SpanKind, SpanStatusCode } = api;
  const provider =
    (options.tracerProvider as TracerProvider | undefined) ?? trace.getTracerProvider();
  const tracer = provider.getTracer(TRACER_NAME);
  const getter = {
    keys: (carrier: Carrier) => Object.keys(carrier),
    get: (carrier: Carrier, key: string) => headerText(carrier[key]),
  };
  const setter = {
    set: (carrier: Carrier, key: string, value: string) => {
      carrier[key] = value;
    },
  };
  const fallback = w3cFallback(api);
  // The global propagator may be registered after connect(): ask each time.
  const inject = (ctx: Context, carrier: Carrier) => {
    if (propagation.fields().length === 0) fallback.inject(ctx, carrier);
    else propagation.inject(ctx, carrier, setter);
  };
  const extract = (ctx: Context, carrier: Carrier) =>
    propagation.fields().length === 0
      ? fallback.extract(ctx, carrier)
      : propagation.extract(ctx, carrier, getter);

  function fail(span: Span, error: unknown): void {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }

  return {
    async publish(envelope, send) {
      const { properties } = envelope;
      const destination = envelope.exchange === "" ? "(default)" : envelope.exchange;
      const attributes: Record<string, string | number> = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": envelope.exchange,
        "messaging.rabbitmq.destination.routing_key": envelope.routingKey,
        "messaging.message.body.size": envelope.content.length,
      };
      if (properties.messageId !== undefined) {
        attributes["messaging.message.id"] = String(properties.messageId);
      }
      if (properties.correlationId !== undefined) {
        attributes["messaging.message.conversation_id"] = String(properties.correlationId);
      }
      const span = tracer.startSpan(`publish ${destination}`, {
        kind: SpanKind.PRODUCER,
        attributes,
      });
      const headers: Record<string, unknown> = { ...properties.headers };
      inject(trace.setSpan(context.active(), span), headers);
      properties.headers = headers;
      try {
        await send();
      } catch (error) {
        fail(span, error);
        throw error;
      } finally {
        span.end();
      }
    },

    consume(message, queue, attempt, handle) {
      const { properties, fields } = message;
      const parent = extract(context.active(), properties.headers ?? {});
      const attributes: Record<string, string | number> = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": queue,
        "messaging.rabbitmq.destination.routing_key": fields.routingKey,
        "messaging.message.body.size": message.content.length,
        "warren.attempt": attempt,
      };
      if (typeof properties.messageId === "string") {
        attributes["messaging.message.id"] = properties.messageId;
      }
      if (typeof properties.correlationId === "string") {
        attributes["messaging.message.conversation_id"] = properties.correlationId;
      }
      const span = tracer.startSpan(
        `process ${queue}`,
        { kind: SpanKind.CONSUMER, attributes },
        parent,
      );
      const active = trace.setSpan(parent, span);
      const delivery: DeliverySpan = {
        traceId: span.spanContext().traceId,
        outcome(outcome, error) {
          span.setAttribute("warren.outcome", outcome);
          if (error !== undefined) fail(span, error);
        },
      };
      return context.with(active, async () => {
        try {
          return await handle(delivery);
        } catch (error) {
          fail(span, error);
          throw error;
        } finally {
          span.end();
        }
      });
    },
  };
}
