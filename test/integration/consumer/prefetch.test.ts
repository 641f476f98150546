import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NonRetryableError } from "../../../src/errors.ts";
import { createHarness, type Harness, waitFor } from "./harness.ts";

// At a raised prefetch the runtime acks a tick's deliveries with one
// `multiple` ack. This checks, on a real broker, that such an ack never
// covers a delivery that was not handled yet: mixed outcomes (success, retry,
// dead letter) at prefetch 20, and a close in the middle of the stream.
let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

type Job = { id: number };

describe("consumer at prefetch 20", () => {
  it("handles every message exactly to its outcome when acks, retries and dead letters interleave", async () => {
    const succeeded = new Set<number>();
    const attempts = new Map<number, number>();
    await h.consume(
      "work",
      (job: Job, ctx) => {
        attempts.set(job.id, ctx.attempt);
        if (job.id % 11 === 0) throw new NonRetryableError(`job ${job.id} is poison`);
        if (job.id % 7 === 0 && ctx.attempt === 1) throw new Error("transient");
        succeeded.add(job.id);
      },
      { prefetch: 20 },
    );
    const ids = Array.from({ length: 300 }, (_, i) => i + 1);
    await Promise.all(ids.map((id) => h.publish("events", "job.run", { id })));

    const poison = ids.filter((id) => id % 11 === 0);
    await waitFor(() => succeeded.size === ids.length - poison.length, 20_000, "all handled");
    const dead = await h.collect("work.dlq", poison.length);
    expect(dead.map((m) => JSON.parse(m.content.toString()).id).sort((a, b) => a - b)).toEqual(
      poison,
    );
    for (const id of ids.filter((id) => id % 7 === 0 && id % 11 !== 0)) {
      expect(attempts.get(id), `job ${id}`).toBe(2);
    }
    expect(await h.depth("work")).toBe(0);
  });

  it("leaves every message it did not handle to the broker when closed mid-stream", async () => {
    const handled = new Set<number>();
    const first = await h.consume(
      "work",
      async (job: Job) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        handled.add(job.id);
      },
      { prefetch: 20 },
    );
    const ids = Array.from({ length: 400 }, (_, i) => i + 1);
    await Promise.all(ids.map((id) => h.publish("events", "job.run", { id })));
    await waitFor(() => handled.size >= 100, 20_000, "100 handled");
    await first.close();

    // What the first consumer did not handle is still in the queue, none lost.
    const second = await h.consume("work", (job: Job) => {
      handled.add(job.id);
    });
    await waitFor(() => handled.size === ids.length, 20_000, "the rest handled");
    await second.close();
    expect(await h.depth("work")).toBe(0);
  });
});
