import { describe, expect, it } from "vitest";
import { consumeDefaults, resolveConsumeOptions } from "../../../src/consumer/options.ts";
import { ConsumeError } from "../../../src/errors.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

const policy: RetryPolicy = { queue: "q", maxAttempts: 1, tiers: [], deadLetterQueue: "q.dlq" };

describe("resolveConsumeOptions", () => {
  it("fills in the documented defaults", () => {
    expect(resolveConsumeOptions(policy)).toMatchObject({
      concurrency: 1,
      prefetch: 1,
      timeoutMs: consumeDefaults.timeoutMs,
      maxBytes: 1_048_576,
      drainTimeoutMs: consumeDefaults.drainTimeoutMs,
      idempotency: undefined,
    });
  });

  it.each([
    ["concurrency", { concurrency: 0 }],
    ["prefetch", { prefetch: 1.5 }],
    ["timeoutMs", { timeoutMs: -1 }],
  ])("refuses a bad %s, naming the queue and the option", (name, options) => {
    expect(() => resolveConsumeOptions(policy, options)).toThrow(ConsumeError);
    expect(() => resolveConsumeOptions(policy, options)).toThrow(
      new RegExp(`consume\\("q"\\): option ${name} must be an integer`),
    );
  });
});
