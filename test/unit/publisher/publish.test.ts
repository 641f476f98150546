import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PublishError } from "../../../src/errors.ts";
import { defineMessages, validatePayload } from "../../../src/publisher/messages.ts";
import { buildEnvelope, uuidv7 } from "../../../src/publisher/publish.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("puts the Unix milliseconds in the first 48 bits, with version 7 and the RFC variant", () => {
    const id = uuidv7(0x0123_4567_89ab);
    expect(id).toMatch(UUID_V7);
    expect(id.startsWith("01234567-89ab-7")).toBe(true);
  });

  it("sorts by creation time and never repeats", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) =>
      uuidv7(1_700_000_000_000 + Math.floor(i / 100)),
    );
    expect(new Set(ids).size).toBe(ids.length);
    const prefixes = ids.map((id) => id.slice(0, 13));
    expect([...prefixes].sort()).toEqual(prefixes);
  });

  it("stays in creation order within one millisecond, past 4,096 ids and when the clock steps back", () => {
    const now = 1_800_000_000_000;
    const ids = Array.from({ length: 10_000 }, () => uuidv7(now));
    ids.push(uuidv7(now - 5)); // a clock stepped back never sorts before earlier ids
    ids.push(...Array.from({ length: 1_000 }, () => uuidv7()));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("buildEnvelope", () => {
  it("builds a persistent JSON message with warren's properties and headers", () => {
    const envelope = buildEnvelope(
      "orders",
      "order.created",
      { orderId: "o-1" },
      {
        correlationId: "c-1",
        traceparent: "00-abc-def-01",
        headers: { tenant: "t", "warren-attempt": 7 },
      },
    );
    expect(JSON.parse(envelope.content.toString())).toEqual({ orderId: "o-1" });
    expect(envelope).toMatchObject({ exchange: "orders", routingKey: "order.created" });
    expect(envelope.properties).toMatchObject({
      contentType: "application/json",
      deliveryMode: 2,
      type: "order.created",
      correlationId: "c-1",
      headers: { tenant: "t", "warren-attempt": 1, traceparent: "00-abc-def-01" },
    });
    expect(envelope.properties.messageId).toMatch(UUID_V7);
    expect(envelope.properties.timestamp).toBe(Math.floor(Date.now() / 1000));
  });

  it("keeps a given messageId, type and traceparent header", () => {
    const envelope = buildEnvelope("", "q", 1, {
      messageId: "m-1",
      type: "Custom",
      headers: { traceparent: "00-from-headers-01" },
    });
    expect(envelope.properties).toMatchObject({
      messageId: "m-1",
      type: "Custom",
      headers: { traceparent: "00-from-headers-01" },
    });
    expect("correlationId" in envelope.properties).toBe(false);
  });

  it("refuses payloads without a JSON form", () => {
    expect(() => buildEnvelope("", "q", undefined, {})).toThrow(TypeError);
    expect(() => buildEnvelope("", "q", 1n, {})).toThrow(TypeError);
  });
});

describe("defineMessages", () => {
  const messages = defineMessages({
    "order.created": z.object({ orderId: z.string() }),
    "order.cancelled": z.object({ orderId: z.string(), reason: z.string().optional() }),
  });

  it("lists its routing keys and passes valid payloads", () => {
    expect(messages.routingKeys).toEqual(["order.created", "order.cancelled"]);
    expect(() => validatePayload(messages, "order.created", { orderId: "o-1" })).not.toThrow();
  });

  it("rejects a payload that fails its schema with WARREN_PUBLISH_INVALID_PAYLOAD naming the field", () => {
    try {
      validatePayload(messages, "order.created", { orderId: 1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PublishError);
      expect(error).toMatchObject({ code: "WARREN_PUBLISH_INVALID_PAYLOAD", inDoubt: false });
      expect((error as Error).message).toContain("orderId");
    }
  });

  it("rejects routing keys it does not know, listing the known ones", () => {
    expect(() => validatePayload(messages, "order.shipped", {})).toThrow(
      /known: order.created, order.cancelled/,
    );
  });

  it("refuses entries that are not zod schemas", () => {
    expect(() => defineMessages({ bad: {} as z.ZodType })).toThrow(/not a zod schema/);
  });
});
