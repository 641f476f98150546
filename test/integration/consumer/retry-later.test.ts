import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startConsumer } from "../../../src/consumer/consume.ts";
import { RetryLaterError } from "../../../src/consumer/retry-later.ts";
import { HEADER } from "../../../src/headers.ts";
import { createHarness, type Harness, waitFor, workTopology } from "./harness.ts";

// RetryLaterError on a real broker. Long tiers (2m, 5m) are only inspected,
// never waited for: the copy is read from the tier queue.
const Q = "work";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return pino({ level: "info" }, stream);
}

describe("RetryLaterError", () => {
  it("sends the message to the shortest declared tier at least as long as the delay, or the longest with a log line", async () => {
    const harness = await createHarness((vhost) =>
      workTopology(vhost, { retry: { delays: ["1s", "2m", "5m"], maxAttempts: 4 } }),
    );
    h = harness;
    const lines: Record<string, unknown>[] = [];
    const consumer = await startConsumer(
      { ...harness.deps, logger: capturingLogger(lines) },
      Q,
      (message: { delay: string }) => {
        throw new RetryLaterError("gateway circuit open", { delay: message.delay });
      },
    );
    try {
      await harness.publish("events", "job.a", { delay: "2m" });
      const [inTwoMinutes] = await harness.collect("work.retry.2m", 1);
      expect(inTwoMinutes?.properties.headers?.[HEADER.attempt]).toBe(2);
      expect(JSON.parse(inTwoMinutes?.content.toString() ?? "")).toEqual({ delay: "2m" });

      await harness.publish("events", "job.b", { delay: "90s" });
      const [rounded] = await harness.collect("work.retry.2m", 1);
      expect(JSON.parse(rounded?.content.toString() ?? "")).toEqual({ delay: "90s" });

      await harness.publish("events", "job.c", { delay: "1h" });
      const [longest] = await harness.collect("work.retry.5m", 1);
      expect(JSON.parse(longest?.content.toString() ?? "")).toEqual({ delay: "1h" });
      const fallback = lines.find((line) =>
        String(line.msg).includes("no retry tier is as long as the delay asked for"),
      );
      expect(fallback).toMatchObject({
        requestedDelayMs: 3_600_000,
        retryQueue: "work.retry.5m",
        delayMs: 300_000,
        level: 40,
      });
      expect(await harness.depth("work.retry.1s")).toBe(0);
      expect(await harness.depth("work.dlq")).toBe(0);
    } finally {
      await consumer.close();
    }
  });

  it("keeps the attempt with countsAsAttempt: false up to maxUncountedRetries, then counts and dead-letters", async () => {
    const harness = await createHarness(); // tiers 200 ms and 500 ms, 3 attempts
    h = harness;
    const seen: { attempt: number; uncounted: unknown }[] = [];
    await harness.consume(
      Q,
      (_message, context) => {
        seen.push({
          attempt: context.attempt,
          uncounted: context.headers[HEADER.uncountedRetries],
        });
        throw new RetryLaterError("not yet", { delay: "100ms", countsAsAttempt: false });
      },
      { maxUncountedRetries: 2 },
    );
    await harness.publish("events", "job.created", { id: 1 });
    const [dead] = await harness.collect("work.dlq", 1, 15_000);
    expect(seen).toEqual([
      { attempt: 1, uncounted: undefined },
      { attempt: 1, uncounted: 1 },
      { attempt: 1, uncounted: 2 },
      { attempt: 2, uncounted: 2 },
      { attempt: 3, uncounted: 2 },
    ]);
    expect(dead?.properties.headers).toMatchObject({
      [HEADER.reason]: "retries-exhausted",
      [HEADER.errorType]: "RetryLaterError",
      [HEADER.attempts]: 3,
    });
  });

  it("treats a forged uncounted-retries header as the cap", async () => {
    const harness = await createHarness();
    h = harness;
    const attempts: number[] = [];
    await harness.consume(
      Q,
      (_message, context) => {
        attempts.push(context.attempt);
        throw new RetryLaterError("not yet", { delay: "100ms", countsAsAttempt: false });
      },
      { maxUncountedRetries: 5 },
    );
    await harness.publish(
      "events",
      "job.created",
      { id: 1 },
      {
        headers: { [HEADER.uncountedRetries]: -1_000_000 },
      },
    );
    await harness.collect("work.dlq", 1, 15_000);
    await waitFor(() => attempts.length === 3, 5_000, "three attempts");
    expect(attempts).toEqual([1, 2, 3]);
  });
});
