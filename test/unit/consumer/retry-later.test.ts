import type { ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import {
  isRetryLater,
  planRetryLater,
  RetryLaterError,
  tierForDelay,
  uncountedRetriesOf,
} from "../../../src/consumer/retry-later.ts";
import { ConsumeError, ErrorCode } from "../../../src/errors.ts";
import { HEADER } from "../../../src/headers.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

const policy: RetryPolicy = {
  queue: "pay",
  maxAttempts: 4,
  tiers: [
    { delayMs: 1_000, queue: "pay.retry.1s" },
    { delayMs: 300_000, queue: "pay.retry.5m" },
    { delayMs: 60_000, queue: "pay.retry.1m" },
  ],
  deadLetterQueue: "pay.dlq",
};

const withHeaders = (headers: Record<string, unknown> | undefined) =>
  ({ properties: { headers } }) as unknown as ConsumeMessage;

describe("RetryLaterError", () => {
  it("parses its delay and counts as an attempt by default", () => {
    const error = new RetryLaterError("gateway breaker open", { delay: "2m" });
    expect(error.delayMs).toBe(120_000);
    expect(error.countsAsAttempt).toBe(true);
    expect(error.name).toBe("RetryLaterError");
    expect(isRetryLater(error)).toBe(true);
    expect(new RetryLaterError("x", { delay: 250, countsAsAttempt: false }).countsAsAttempt).toBe(
      false,
    );
  });

  it("refuses a delay that is not a duration with WARREN_RETRY_LATER_INVALID_DELAY", () => {
    for (const delay of ["2 minutes", -5, 1.5, "" as string]) {
      try {
        new RetryLaterError("x", { delay });
        expect.unreachable(`delay ${String(delay)} was accepted`);
      } catch (error) {
        expect(error).toBeInstanceOf(ConsumeError);
        expect((error as ConsumeError).code).toBe(ErrorCode.WARREN_RETRY_LATER_INVALID_DELAY);
        expect((error as Error).message).toMatch(/^RetryLaterError: option delay: /);
      }
    }
  });

  it("recognises a look-alike from another copy of warren, and not a plain error named so", () => {
    const lookAlike = Object.assign(new Error("x"), {
      name: "RetryLaterError",
      delayMs: 5,
      countsAsAttempt: true,
    });
    expect(isRetryLater(lookAlike)).toBe(true);
    expect(isRetryLater(Object.assign(new Error("x"), { name: "RetryLaterError" }))).toBe(false);
  });
});

describe("tierForDelay", () => {
  it("picks the shortest tier at least as long as the request", () => {
    expect(tierForDelay(policy, 120_000)).toEqual({
      tier: { delayMs: 300_000, queue: "pay.retry.5m" },
      longEnough: true,
    });
    expect(tierForDelay(policy, 60_000)?.tier.queue).toBe("pay.retry.1m");
    expect(tierForDelay(policy, 0)?.tier.queue).toBe("pay.retry.1s");
  });

  it("falls back to the longest tier when none is long enough, and to nothing without tiers", () => {
    expect(tierForDelay(policy, 3_600_000)).toEqual({
      tier: { delayMs: 300_000, queue: "pay.retry.5m" },
      longEnough: false,
    });
    expect(tierForDelay({ ...policy, tiers: [] }, 1)).toBeUndefined();
  });
});

describe("uncountedRetriesOf", () => {
  it("reads the header as untrusted input: anything odd reads as the cap", () => {
    expect(uncountedRetriesOf(withHeaders(undefined), 10)).toBe(0);
    expect(uncountedRetriesOf(withHeaders({ [HEADER.uncountedRetries]: 3 }), 10)).toBe(3);
    expect(uncountedRetriesOf(withHeaders({ [HEADER.uncountedRetries]: "4" }), 10)).toBe(4);
    for (const bad of [-1, 1.5, "x", "-3", 11, 1e12, null, { n: 1 }]) {
      expect(uncountedRetriesOf(withHeaders({ [HEADER.uncountedRetries]: bad }), 10)).toBe(10);
    }
  });
});

describe("planRetryLater", () => {
  const later = (countsAsAttempt?: boolean) =>
    new RetryLaterError("later", {
      delay: "2m",
      ...(countsAsAttempt === undefined ? {} : { countsAsAttempt }),
    });

  it("counts the attempt by default and dead-letters at maxAttempts", () => {
    expect(planRetryLater(policy, 1, 0, later(), 10)).toMatchObject({
      kind: "retry",
      nextAttempt: 2,
      uncountedRetries: undefined,
      tier: { queue: "pay.retry.5m" },
    });
    expect(planRetryLater(policy, 4, 0, later(), 10)).toEqual({ kind: "dead-letter" });
  });

  it("keeps the attempt when asked, up to the cap, then counts again", () => {
    expect(planRetryLater(policy, 4, 0, later(false), 2)).toMatchObject({
      kind: "retry",
      nextAttempt: 4,
      uncountedRetries: 1,
      capped: false,
    });
    expect(planRetryLater(policy, 2, 2, later(false), 2)).toMatchObject({
      kind: "retry",
      nextAttempt: 3,
      uncountedRetries: undefined,
      capped: true,
    });
    expect(planRetryLater(policy, 4, 2, later(false), 2)).toEqual({ kind: "dead-letter" });
  });

  it("dead-letters when the queue has no retry tiers", () => {
    expect(planRetryLater({ ...policy, tiers: [] }, 1, 0, later(false), 10)).toEqual({
      kind: "dead-letter",
    });
  });
});
