/**
 * OpenTelemetry traces end to end, with the SDK's in-memory exporter: one
 * trace holds the publish (a producer span), each delivery attempt (a
 * consumer span, child of the producer span: retry copies keep the
 * original's trace context) and the application's own span inside the
 * handler. Runs once without a registered propagator (warren's W3C
 * fallback) and once with the W3C propagator registered globally.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../../src/client.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { randomName } from "../../support/names.ts";
import {
  createVhost,
  deleteVhost,
  managementUrl,
  vhostUrl,
  waitFor,
  workTopology,
} from "../consumer/harness.ts";

const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  contextManager.disable();
  context.disable();
  propagation.disable();
});

async function tracedRun() {
  const vhost = randomName("warren-trace");
  const url = vhostUrl(vhost);
  await createVhost(vhost);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const topology = compileTopology(resolveTopology(workTopology(vhost)));
  await applyTopology(topology, { url, managementUrl });
  const warren = await connect({
    url,
    topology,
    logger,
    publishExchange: "events",
    tracing: { tracerProvider: provider },
  });
  const app = provider.getTracer("app");
  let succeeded = false;
  try {
    await warren.consume<{ id: string }>("work", async (_job, ctx) => {
      // The application's span nests under warren's consumer span.
      app.startActiveSpan("charge card", (span) => span.end());
      ctx.logger.info("attempting");
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
      succeeded = true;
    });
    await warren.publish("job.charge", { id: "o-1" }, { correlationId: "order-1" });
    await waitFor(() => succeeded, 10_000, "the third attempt");
    // The last span ends right after the ack.
    await waitFor(() => exporter.getFinishedSpans().length >= 7, 5_000, "7 spans");
  } finally {
    await warren.close();
    await deleteVhost(vhost);
  }
  return { spans: exporter.getFinishedSpans(), logs };
}

function checkTrace({ spans, logs }: Awaited<ReturnType<typeof tracedRun>>) {
  const producers = spans.filter((s) => s.kind === SpanKind.PRODUCER);
  const consumers = spans.filter((s) => s.kind === SpanKind.CONSUMER);
  const appSpans = spans.filter((s) => s.name === "charge card");
  expect(producers).toHaveLength(1);
  expect(consumers).toHaveLength(3);
  expect(appSpans).toHaveLength(3);

  const publish = producers[0]!;
  const traceId = publish.spanContext().traceId;
  expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));
  expect(publish.name).toBe("publish events");
  expect(publish.attributes).toMatchObject({
    "messaging.system": "rabbitmq",
    "messaging.operation.type": "send",
    "messaging.destination.name": "events",
    "messaging.rabbitmq.destination.routing_key": "job.charge",
    "messaging.message.conversation_id": "order-1",
  });
  const messageId = publish.attributes["messaging.message.id"];
  expect(typeof messageId).toBe("string");

  const byAttempt = [...consumers].sort(
    (a, b) => Number(a.attributes["warren.attempt"]) - Number(b.attributes["warren.attempt"]),
  );
  expect(byAttempt.map((s) => s.attributes["warren.attempt"])).toEqual([1, 2, 3]);
  expect(byAttempt.map((s) => s.attributes["warren.outcome"])).toEqual([
    "retried",
    "retried",
    "acked",
  ]);
  expect(byAttempt.map((s) => s.status.code)).toEqual([
    SpanStatusCode.ERROR,
    SpanStatusCode.ERROR,
    SpanStatusCode.UNSET,
  ]);
  for (const span of byAttempt) {
    expect(span.name).toBe("process work");
    // Every attempt, retry copies included, is a child of the publish.
    expect(span.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(span.attributes).toMatchObject({
      "messaging.system": "rabbitmq",
      "messaging.operation.type": "process",
      "messaging.destination.name": "work",
      "messaging.message.id": messageId,
      "messaging.message.conversation_id": "order-1",
    });
  }
  const consumerIds = new Set(consumers.map((s) => s.spanContext().spanId));
  for (const span of appSpans) expect(consumerIds).toContain(span.parentSpanContext?.spanId);

  // Message-level log lines carry the trace id.
  const attempts = logs.filter((line) => line.msg === "attempting");
  expect(attempts).toHaveLength(3);
  for (const line of attempts) expect(line).toMatchObject({ traceId, queue: "work" });
  const retried = logs.filter((line) => line.msg === "handler failed, retrying");
  expect(retried).toHaveLength(2);
  for (const line of retried) expect(line.traceId).toBe(traceId);
}

describe("OpenTelemetry traces", () => {
  it("connects a publish, two failed attempts and the success in one trace (no propagator registered: W3C fallback)", async () => {
    expect(propagation.fields()).toEqual([]);
    checkTrace(await tracedRun());
  });

  it("does the same through the globally registered propagator", async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    expect(propagation.fields()).toContain("traceparent");
    checkTrace(await tracedRun());
  });

  it("leaves tracing off unless asked: no spans and no trace headers", async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    const vhost = randomName("warren-trace");
    const url = vhostUrl(vhost);
    await createVhost(vhost);
    try {
      const topology = compileTopology(resolveTopology(workTopology(vhost)));
      await applyTopology(topology, { url, managementUrl });
      const warren = await connect({ url, topology, publishExchange: "events" });
      let headers: Record<string, unknown> | undefined;
      await warren.consume("work", (_m, ctx) => {
        headers = { ...ctx.headers };
      });
      await warren.publish("job.plain", { id: 1 });
      await waitFor(() => headers !== undefined, 10_000, "the delivery");
      await warren.close();
      expect(headers).not.toHaveProperty("traceparent");
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      trace.disable();
      await deleteVhost(vhost);
    }
  });
});
