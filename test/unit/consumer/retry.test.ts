import type { ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { attemptOf, originOf } from "../../../src/consumer/context.ts";
import {
  deadLetterEnvelope,
  MAX_STACK_BYTES,
  retryEnvelope,
  truncateUtf8,
} from "../../../src/consumer/retry.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

const policy: RetryPolicy = {
  queue: "orders",
  maxAttempts: 3,
  tiers: [
    { delayMs: 1000, queue: "orders.retry.1s" },
    { delayMs: 10_000, queue: "orders.retry.10s" },
  ],
  deadLetterQueue: "orders.dlq",
};

function delivery(headers?: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    content: Buffer.from('{"id":1}'),
    fields: {
      deliveryTag: 1,
      redelivered: false,
      exchange: "shop",
      routingKey: "order.created",
      consumerTag: "c",
    },
    properties: {
      contentType: "application/json",
      contentEncoding: undefined,
      headers,
      deliveryMode: 2,
      priority: undefined,
      correlationId: "corr",
      replyTo: undefined,
      expiration: "60000",
      messageId: "m-1",
      timestamp: 1_700_000_000,
      type: "order.created",
      userId: "someone-else",
      appId: "shop",
      clusterId: undefined,
      ...extra,
    },
  } as ConsumeMessage;
}

const now = new Date("2026-01-02T03:04:05.000Z");

describe("reading warren headers", () => {
  it("treats a delivery without warren headers as attempt 1 from its own exchange", () => {
    expect(attemptOf(delivery())).toBe(1);
    expect(originOf(delivery())).toEqual({ exchange: "shop", routingKey: "order.created" });
  });

  it("ignores a malformed attempt header", () => {
    expect(attemptOf(delivery({ "warren-attempt": "x" }))).toBe(1);
    expect(attemptOf(delivery({ "warren-attempt": 0 }))).toBe(1);
    expect(attemptOf(delivery({ "warren-attempt": 2 }))).toBe(2);
  });
});

describe("retryEnvelope", () => {
  it("sends a copy to the tier queue through the default exchange with the next attempt", () => {
    const tier = policy.tiers[0] as (typeof policy.tiers)[0];
    const envelope = retryEnvelope(delivery({ app: "kept" }), tier, policy, 2, now);
    expect(envelope).toMatchObject({
      exchange: "",
      routingKey: "orders.retry.1s",
      mandatory: true,
    });
    expect(envelope.content.toString()).toBe('{"id":1}');
    expect(envelope.properties).toMatchObject({
      persistent: true,
      messageId: "m-1",
      correlationId: "corr",
      contentType: "application/json",
      timestamp: 1_700_000_000,
      type: "order.created",
      appId: "shop",
      headers: {
        app: "kept",
        "warren-attempt": 2,
        "warren-original-queue": "orders",
        "warren-original-exchange": "shop",
        "warren-original-routing-key": "order.created",
        "warren-first-failed-at": "2026-01-02T03:04:05.000Z",
      },
    });
    // A TTL would cut the tier's delay short; a foreign user-id is refused.
    expect(envelope.properties).not.toHaveProperty("expiration");
    expect(envelope.properties).not.toHaveProperty("userId");
  });

  it("keeps the first failure time and the original routing of an earlier copy", () => {
    const earlier = delivery({
      "warren-attempt": 2,
      "warren-first-failed-at": "2026-01-01T00:00:00.000Z",
      "warren-original-exchange": "shop",
      "warren-original-routing-key": "order.created",
    });
    const tier = policy.tiers[1] as (typeof policy.tiers)[0];
    const headers = retryEnvelope(earlier, tier, policy, 3, now).properties.headers;
    expect(headers).toMatchObject({
      "warren-attempt": 3,
      "warren-first-failed-at": "2026-01-01T00:00:00.000Z",
      "warren-original-routing-key": "order.created",
    });
  });
});

describe("deadLetterEnvelope", () => {
  it("carries every failure header a dead letter promises", () => {
    const error = new RangeError("bad amount");
    const envelope = deadLetterEnvelope(delivery(), policy, 3, "retries-exhausted", error, now);
    expect(envelope).toMatchObject({ exchange: "", routingKey: "orders.dlq", mandatory: true });
    expect(envelope.properties.headers).toMatchObject({
      "warren-reason": "retries-exhausted",
      "warren-error-type": "RangeError",
      "warren-error-message": "bad amount",
      "warren-attempts": 3,
      "warren-first-failed-at": "2026-01-02T03:04:05.000Z",
      "warren-failed-at": "2026-01-02T03:04:05.000Z",
      "warren-original-queue": "orders",
      "warren-original-exchange": "shop",
      "warren-original-routing-key": "order.created",
    });
    expect(envelope.properties.headers["warren-error-stack"]).toContain("RangeError: bad amount");
    expect(envelope.properties).not.toHaveProperty("expiration");
  });

  it("truncates a long stack to 4 KiB", () => {
    const error = new Error("deep");
    error.stack = "é".repeat(5000);
    const headers = deadLetterEnvelope(delivery(), policy, 1, "non-retryable", error, now)
      .properties.headers;
    const stack = String(headers["warren-error-stack"]);
    expect(Buffer.byteLength(stack)).toBeLessThanOrEqual(MAX_STACK_BYTES);
    expect(stack).toBe("é".repeat(2048));
  });

  it("describes a thrown non-error value", () => {
    const headers = deadLetterEnvelope(delivery(), policy, 1, "retries-exhausted", "oops", now)
      .properties.headers;
    expect(headers).toMatchObject({
      "warren-error-type": "string",
      "warren-error-message": "oops",
    });
  });
});

describe("truncateUtf8", () => {
  it("never splits a multi-byte character", () => {
    expect(truncateUtf8("aé", 2)).toBe("a");
    expect(truncateUtf8("abc", 10)).toBe("abc");
  });
});
