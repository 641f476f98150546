import { describe, expect, it } from "vitest";
import { consoleTopologyFromCompiled, groupQueueNames } from "../../../src/console/model.ts";
import { layoutFromNames } from "../../../src/status/queue-status.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";

const broker = [
  "orders.p0",
  "orders.p0.retry.1s",
  "orders.p1",
  "orders.p1.retry.1s",
  "orders.dlq",
  "orders.consumers",
  "plain",
  "plain.dlq",
];

describe("partitions in status and the console", () => {
  it("status lists each partition with its tiers and the shared Q.dlq, by names alone", () => {
    expect(layoutFromNames(broker)).toEqual([
      { queue: "orders.p0", tiers: ["orders.p0.retry.1s"], deadLetter: "orders.dlq" },
      { queue: "orders.p1", tiers: ["orders.p1.retry.1s"], deadLetter: "orders.dlq" },
      { queue: "plain", tiers: [], deadLetter: "plain.dlq" },
    ]);
  });

  it("the console groups partitions as work queues whose dead letters are in Q.dlq", () => {
    const grouped = groupQueueNames(
      broker.map((name) => ({
        name,
        type: "quorum",
        ttlMs: name.includes("retry") ? 1000 : undefined,
      })),
    );
    expect(grouped.map((q) => [q.name, q.tiers.map((t) => t.queue), q.deadLetterQueue])).toEqual([
      ["orders.p0", ["orders.p0.retry.1s"], "orders.dlq"],
      ["orders.p1", ["orders.p1.retry.1s"], "orders.dlq"],
      ["plain", [], "plain.dlq"],
    ]);
    const compiled = compileTopology(
      resolveTopology({
        exchanges: { events: { type: "topic" } },
        queues: {
          orders: {
            partitions: 2,
            bindings: [{ exchange: "events", routingKey: "#" }],
            retry: { delays: ["1s"] },
          },
        },
      }),
    );
    const fromFile = consoleTopologyFromCompiled(compiled).queues;
    expect(fromFile.map((q) => [q.name, q.deadLetterQueue, q.maxAttempts])).toEqual([
      ["orders.p0", "orders.dlq", 2],
      ["orders.p1", "orders.dlq", 2],
    ]);
  });
});
