import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { consumedCount, createHarness, type Harness, waitFor } from "./harness.ts";

// Bodies from another client that the runtime must refuse as they are,
// never change silently and never turn into an exception that requeues.
let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

describe("untrusted bodies", () => {
  it("dead-letters JSON whose strings hold invalid UTF-8 as undecodable, without calling the handler", async () => {
    const seen: unknown[] = [];
    await h.consume("work", (message) => {
      seen.push(message);
    });
    const body = Buffer.concat([
      Buffer.from('{"name":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    await h.publish("events", "job.created", body, { messageId: "latin-1" });
    const [dead] = await h.collect("work.dlq", 1);
    expect(dead?.properties.headers?.["warren-reason"]).toBe("undecodable");
    expect(dead?.properties.headers?.["warren-error-message"]).toMatch(/not valid UTF-8/);
    // The dead letter keeps the bytes as they came.
    expect(dead?.content.equals(body)).toBe(true);
    expect(seen).toEqual([]);
  });

  it("dead-letters JSON nested 100,000 deep that its schema cannot walk as invalid-payload, not a requeue loop", async () => {
    type Deep = { next?: Deep | undefined };
    const deep: z.ZodType<Deep> = z.lazy(() => z.object({ next: deep.optional() }));
    await h.consume("work", () => {}, { schema: deep, requeueDelayMs: 50 });
    const depth = 100_000;
    await h.publish(
      "events",
      "job.created",
      Buffer.from(`${'{"next":'.repeat(depth)}{}${"}".repeat(depth)}`),
    );
    const [dead] = await h.collect("work.dlq", 1);
    expect(dead?.properties.headers?.["warren-reason"]).toBe("invalid-payload");
    await waitFor(async () => (await consumedCount(h, "dead_lettered")) === 1);
    expect(await consumedCount(h, "requeued")).toBe(0);
  });
});
