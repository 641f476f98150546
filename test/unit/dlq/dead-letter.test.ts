/**
 * Reading a dead letter whose headers were forged by another client: every
 * field comes through a checked reader (consumer/delivery-headers.ts), so a
 * value of the wrong type or range leaves the field empty instead of
 * throwing or reaching the output as is. The headers go through amqplib's
 * own table codec, as they would off the wire (a header named `__proto__`
 * becomes the decoded table's prototype there).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { GetMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { toDeadLetter } from "../../../src/dlq/dead-letter.ts";
import { replayHeaders } from "../../../src/dlq/replay.ts";

// amqplib's table codec is not in its package exports: loaded by file path.
const require = createRequire(import.meta.url);
const codec = require(join(dirname(require.resolve("amqplib")), "lib", "codec.js")) as {
  encodeTable(buffer: Buffer, value: Record<string, unknown>, offset: number): number;
  decodeFields(slice: Buffer): Record<string, unknown>;
};

/** Headers as a consumer receives them: encoded as an AMQP table and decoded again. */
function wire(headers: Record<string, unknown>): Record<string, unknown> {
  const buffer = Buffer.alloc(1 << 20);
  const length = codec.encodeTable(buffer, headers, 0);
  // The table starts with its 4-byte length.
  return codec.decodeFields(buffer.subarray(4, length));
}

function letter(headers: Record<string, unknown>) {
  const message = {
    content: Buffer.from('{"seq":1}'),
    fields: { deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q.dlq" },
    properties: { headers: wire(headers) },
  } as unknown as GetMessage;
  return toDeadLetter(message, 0, "q", 64);
}

const death = {
  count: 2,
  reason: "delivery_limit",
  queue: "q",
  time: { "!": "timestamp", value: 1_700_000_000 },
  exchange: "orders",
  "routing-keys": ["orders.placed"],
};

describe("a dead letter with forged headers", () => {
  it("reads well-formed headers as they are", () => {
    const read = letter({
      "warren-attempts": 3,
      "warren-replay-count": 1,
      "warren-reason": "retries-exhausted",
      "warren-failed-at": "2026-11-30T07:00:00.000Z",
      "x-delivery-count": 4,
      "x-death": [death],
    });
    expect(read.attempts).toBe(3);
    expect(read.replayCount).toBe(1);
    expect(read.reason).toBe("retries-exhausted");
    expect(read.failedAt).toBe("2026-11-30T07:00:00.000Z");
    expect(read.deliveryCount).toBe(4);
    expect(read.xDeath).toEqual([
      {
        queue: "q",
        reason: "delivery_limit",
        count: 2,
        exchange: "orders",
        routingKeys: ["orders.placed"],
        time: new Date(1_700_000_000_000).toISOString(),
      },
    ]);
    expect(read.originalExchange).toBe("orders");
    expect(read.originalRoutingKey).toBe("orders.placed");
  });

  it.each([
    ["negative", -3],
    ["zero", 0],
    ["beyond the safe integers", 2 ** 60],
    ["a fraction", 1.5],
    ["not a number", "many"],
    ["a table", { value: 2 }],
    ["an array", [1, 2]],
  ])("ignores warren-attempts that is %s", (_, value) => {
    const read = letter({ "warren-attempts": value, "warren-replay-count": value });
    expect(read.attempts).toBeUndefined();
    expect(read.replayCount).toBe(0);
    // The raw value is still shown.
    expect(Object.keys(read.headers)).toContain("warren-attempts");
  });

  it("gives a replay copy a replay count one higher, never a forged one", () => {
    const read = letter({ "warren-replay-count": 2 ** 60 });
    const headers = replayHeaders({ "warren-replay-count": 2 ** 60 }, read, pair, new Date(0));
    expect(headers["warren-replay-count"]).toBe(1);
  });

  it.each([
    ["not a list", "x-death"],
    ["a list with null", [null]],
    ["a list with a number", [42]],
    ["an entry with a negative count", [{ ...death, count: -1 }]],
    ["an entry with an unknown reason", [{ ...death, reason: "boom" }]],
    ["an entry with a string time", [{ ...death, time: "yesterday" }]],
    ["an empty list", []],
  ])("ignores an x-death that is %s", (_, value) => {
    const read = letter({ "x-death": value });
    expect(read.xDeath).toBeUndefined();
    expect(read.reason).toBeUndefined();
  });

  it("does not read headers through a forged __proto__ header", () => {
    const read = letter({
      ["__proto__"]: { "warren-reason": "forged", "warren-attempts": 5, "x-death": [death] },
    });
    expect(read.reason).toBeUndefined();
    expect(read.attempts).toBeUndefined();
    expect(read.xDeath).toBeUndefined();
    expect(({} as Record<string, unknown>)["warren-reason"]).toBeUndefined();
  });

  it("ignores times, origins and texts of the wrong type or size", () => {
    const read = letter({
      "warren-failed-at": "not a time",
      "warren-first-failed-at": { "!": "timestamp", value: 2 ** 60 },
      "warren-original-exchange": "x".repeat(300),
      "warren-original-routing-key": { table: true },
      "warren-error-message": ["a", "list"],
      "warren-error-type": Buffer.alloc(20_000, 65),
    });
    expect(read.failedAt).toBeUndefined();
    expect(read.firstFailedAt).toBeUndefined();
    expect(read.originalExchange).toBeUndefined();
    expect(read.originalRoutingKey).toBeUndefined();
    expect(read.errorMessage).toBeUndefined();
    expect(read.errorType).toBeUndefined();
  });

  it("keeps no broker-owned header on a replay copy, CC and BCC included", () => {
    const headers = {
      CC: ["other"],
      BCC: ["secret"],
      "x-received-from": [],
      "x-death": [death],
      app: "kept",
    };
    const copy = replayHeaders(wire(headers), letter(headers), pair, new Date(0));
    expect(Object.keys(copy)).not.toContain("CC");
    expect(Object.keys(copy)).not.toContain("BCC");
    expect(Object.keys(copy)).not.toContain("x-received-from");
    expect(Object.keys(copy)).not.toContain("x-death");
    expect(copy.app).toBe("kept");
  });
});

const pair = { queue: "q", deadLetterQueue: "q.dlq" } as Parameters<typeof replayHeaders>[2];
