import { describe, expect, it } from "vitest";
import { defineWorker, workersOf } from "../../../src/worker/define-worker.ts";

const handler = () => {};

describe("defineWorker and workersOf", () => {
  it("reads a default export, a default list, or named exports", () => {
    const a = defineWorker({ queue: "a", handler });
    const b = defineWorker({ queue: "b", handler, options: { concurrency: 3 } });
    expect(workersOf({ default: a }, "m").map((w) => w.queue)).toEqual(["a"]);
    expect(workersOf({ default: [a, b] }, "m").map((w) => w.queue)).toEqual(["a", "b"]);
    expect(workersOf({ a, other: 1, b }, "m").map((w) => w.queue)).toEqual(["a", "b"]);
    expect(b.options.concurrency).toBe(3);
  });

  it("refuses a module without workers, a queue defined twice, and bad definitions", () => {
    const a = defineWorker({ queue: "a", handler });
    expect(() => workersOf({ default: 42 }, "m.ts")).toThrow(
      expect.objectContaining({
        code: "WARREN_WORKER_INVALID",
        message: expect.stringContaining("m.ts exports no worker"),
      }),
    );
    expect(() => workersOf({ default: [a, a] }, "m.ts")).toThrow(/two workers for queue "a"/);
    expect(() => defineWorker({ queue: "", handler })).toThrow(/queue/);
    expect(() => defineWorker({ queue: "a", handler: 1 as never })).toThrow(/handler/);
  });
});
