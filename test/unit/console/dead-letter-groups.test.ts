import { describe, expect, it } from "vitest";
import {
  groupDeadLetters,
  groupFilter,
  selectionFilter,
} from "../../../src/console/dead-letter-groups.ts";
import type { DeadLetter } from "../../../src/dlq/dead-letter.ts";

function letter(position: number, fields: Partial<DeadLetter>): DeadLetter {
  return {
    position,
    messageId: `m-${position}`,
    correlationId: undefined,
    type: undefined,
    publishedAt: undefined,
    reason: undefined,
    errorType: undefined,
    errorMessage: undefined,
    errorStack: undefined,
    attempts: undefined,
    firstFailedAt: undefined,
    failedAt: undefined,
    originalExchange: undefined,
    originalRoutingKey: undefined,
    replayCount: 0,
    xDeath: undefined,
    deliveryCount: undefined,
    headers: {},
    bodyBytes: 2,
    bodyPreview: "{}",
    bodyEncoding: "utf8",
    bodyTruncated: false,
    ...fields,
  };
}

const letters = [
  letter(0, {
    reason: "retries-exhausted",
    errorType: "TypeError",
    errorMessage: "x is undefined",
    firstFailedAt: "2026-01-01T10:00:00.000Z",
    failedAt: "2026-01-01T10:01:00.000Z",
  }),
  letter(1, {
    reason: "non-retryable",
    errorType: "NotFound",
    failedAt: "2026-01-01T11:00:00.000Z",
  }),
  letter(2, {
    reason: "retries-exhausted",
    errorType: "TypeError",
    firstFailedAt: "2026-01-01T09:00:00.000Z",
    failedAt: "2026-01-01T12:00:00.000Z",
  }),
  letter(3, {
    reason: "delivery_limit",
    xDeath: [
      {
        queue: "q",
        reason: "delivery_limit",
        count: 1,
        exchange: "",
        routingKeys: [],
        time: "2026-01-01T13:00:00.000Z",
      },
    ],
  }),
];

describe("dead-letter groups", () => {
  it("groups by reason and error type with counts and the first and last failure, largest first", () => {
    expect(groupDeadLetters(letters)).toEqual([
      {
        reason: "retries-exhausted",
        errorType: "TypeError",
        count: 2,
        firstFailedAt: "2026-01-01T09:00:00.000Z",
        lastFailedAt: "2026-01-01T12:00:00.000Z",
        exampleMessage: "x is undefined",
      },
      {
        reason: "delivery_limit",
        errorType: null,
        count: 1,
        firstFailedAt: null,
        lastFailedAt: "2026-01-01T13:00:00.000Z",
        exampleMessage: null,
      },
      {
        reason: "non-retryable",
        errorType: "NotFound",
        count: 1,
        firstFailedAt: "2026-01-01T11:00:00.000Z",
        lastFailedAt: "2026-01-01T11:00:00.000Z",
        exampleMessage: null,
      },
    ]);
  });

  it("a group filter matches its letters only, an absent error type included", () => {
    const typeErrors = letters.filter(
      groupFilter({ reason: "retries-exhausted", errorType: "TypeError" }),
    );
    expect(typeErrors.map((l) => l.position)).toEqual([0, 2]);
    const broker = letters.filter(groupFilter({ reason: "delivery_limit", errorType: null }));
    expect(broker.map((l) => l.position)).toEqual([3]);
  });

  it("a selection matches position and messageId together, so a stale selection matches nothing", () => {
    const pick = selectionFilter([
      { position: 1, messageId: "m-1" },
      { position: 2, messageId: "m-9" },
    ]);
    expect(letters.filter(pick).map((l) => l.position)).toEqual([1]);
    const noId = selectionFilter([{ position: 0, messageId: null }]);
    expect(noId(letter(0, { messageId: undefined }))).toBe(true);
    expect(noId(letter(0, {}))).toBe(false);
  });
});
