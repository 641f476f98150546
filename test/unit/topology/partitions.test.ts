import { describe, expect, it } from "vitest";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { planTopology } from "../../../src/topology/plan.ts";
import { missingPluginError } from "../../../src/topology/plugins.ts";
import { queuesReached } from "../../../src/topology/route.ts";
import { topologyRefusal, yaml } from "../../support/topology-text.ts";

const failure = (text: string) => topologyRefusal(text);

const partitioned = (partitionBy?: unknown) =>
  compileTopology(
    resolveTopology({
      exchanges: { orders: { type: "topic" } },
      queues: {
        "orders.fulfil": {
          partitions: 3,
          ...(partitionBy === undefined ? {} : { partitionBy }),
          bindings: [{ exchange: "orders", routingKey: "order.*" }],
          retry: { delays: ["1s", "10s"] },
        },
      },
    } as never),
  );

describe("partitioned queues in the topology", () => {
  it("compiles to a consistent-hash exchange, N single-active-consumer partitions with their own tiers, and one .dlq", () => {
    const compiled = partitioned();
    expect(compiled.exchanges.map((e) => [e.name, e.type, e.arguments])).toEqual([
      ["orders", "topic", {}],
      ["orders.fulfil.partitions", "x-consistent-hash", {}],
    ]);
    expect(compiled.queues.map((q) => [q.name, q.role, q.owner])).toEqual([
      ["orders.fulfil.p0", "partition", "orders.fulfil"],
      ["orders.fulfil.p0.retry.1s", "retry", "orders.fulfil"],
      ["orders.fulfil.p0.retry.10s", "retry", "orders.fulfil"],
      ["orders.fulfil.p1", "partition", "orders.fulfil"],
      ["orders.fulfil.p1.retry.1s", "retry", "orders.fulfil"],
      ["orders.fulfil.p1.retry.10s", "retry", "orders.fulfil"],
      ["orders.fulfil.p2", "partition", "orders.fulfil"],
      ["orders.fulfil.p2.retry.1s", "retry", "orders.fulfil"],
      ["orders.fulfil.p2.retry.10s", "retry", "orders.fulfil"],
      ["orders.fulfil.dlq", "dlq", "orders.fulfil"],
      ["orders.fulfil.consumers", "presence", "orders.fulfil"],
    ]);
    const p1 = compiled.queues.find((q) => q.name === "orders.fulfil.p1")!;
    expect(p1.arguments).toEqual({
      "x-queue-type": "quorum",
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "orders.fulfil.dlq",
      "x-delivery-limit": 20,
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
      "x-single-active-consumer": true,
    });
    // A retried message comes back to its own partition, never through the hash.
    expect(
      compiled.queues.find((q) => q.name === "orders.fulfil.p1.retry.10s")!.arguments,
    ).toMatchObject({ "x-message-ttl": 10_000, "x-dead-letter-routing-key": "orders.fulfil.p1" });
    expect(compiled.bindings).toEqual([
      {
        source: "orders.fulfil.partitions",
        destination: "orders.fulfil.p0",
        destinationType: "queue",
        routingKey: "1",
        arguments: {},
      },
      {
        source: "orders.fulfil.partitions",
        destination: "orders.fulfil.p1",
        destinationType: "queue",
        routingKey: "1",
        arguments: {},
      },
      {
        source: "orders.fulfil.partitions",
        destination: "orders.fulfil.p2",
        destinationType: "queue",
        routingKey: "1",
        arguments: {},
      },
      {
        source: "orders",
        destination: "orders.fulfil.partitions",
        destinationType: "exchange",
        routingKey: "order.*",
        arguments: {},
      },
    ]);
    expect(Object.keys(compiled.retryPolicies)).toEqual([
      "orders.fulfil.p0",
      "orders.fulfil.p1",
      "orders.fulfil.p2",
    ]);
    expect(compiled.retryPolicies["orders.fulfil.p2"]).toEqual({
      queue: "orders.fulfil.p2",
      maxAttempts: 3,
      tiers: [
        { delayMs: 1000, queue: "orders.fulfil.p2.retry.1s" },
        { delayMs: 10_000, queue: "orders.fulfil.p2.retry.10s" },
      ],
      deadLetterQueue: "orders.fulfil.dlq",
    });
    expect(compiled.partitioned?.["orders.fulfil"]?.exchange).toBe("orders.fulfil.partitions");
    expect(queuesReached(compiled, "orders", "order.created")).toEqual(
      new Set(["orders.fulfil.p0", "orders.fulfil.p1", "orders.fulfil.p2"]),
    );
  });

  it("hashes the message id or a header when partitionBy says so", () => {
    expect(partitioned("messageId").exchanges[1]!.arguments).toEqual({
      "hash-property": "message_id",
    });
    expect(partitioned({ header: "tenant" }).exchanges[1]!.arguments).toEqual({
      "hash-header": "tenant",
    });
    expect(partitioned("routingKey").exchanges[1]!.arguments).toEqual({});
  });

  it("refuses a bad partitionBy, partitionBy without partitions and a clashing hash exchange, at their lines", () => {
    const error = failure(
      yaml([
        "exchanges:",
        "  orders: { type: topic }",
        "  work.partitions: { type: fanout }",
        "queues:",
        "  a:",
        "    partitions: 2",
        "    partitionBy: orderId",
        "  b:",
        "    partitionBy: messageId",
        "  work:",
        "    partitions: 0",
        "  c:",
        "    partitions: 2",
        "    partitionBy: { header: '' }",
      ]),
    );
    expect(error.code).toBe("WARREN_TOPOLOGY_INVALID");
    expect(error.message).toContain(
      't.yaml:7: queues.a.partitionBy: expected routingKey, messageId or { header: <name> }, got "orderId"',
    );
    expect(error.message).toContain("t.yaml:11: queues.work.partitions: must be at least 1, got 0");
    expect(error.message).toContain("t.yaml:14: queues.c.partitionBy");
    const clash = failure(
      yaml([
        "exchanges:",
        "  work.partitions: { type: fanout }",
        "queues:",
        "  work:",
        "    partitions: 2",
        "  b:",
        "    partitionBy: messageId",
        "  work.p1:",
        "    type: quorum",
      ]),
    );
    expect(clash.message).toContain(
      't.yaml:5: queues.work.partitions: the hash exchange of this partitioned queue would be named "work.partitions", which is a declared exchange',
    );
    expect(clash.message).toContain(
      "t.yaml:7: queues.b.partitionBy: partitionBy has no effect without partitions",
    );
    expect(clash.message).toContain('"work.p1" is a partition of queue "work"; rename this queue');
  });

  it("is planned with the hash exchange and partitions described, and needs the consistent-hash plugin", () => {
    const compiled = partitioned({ header: "orderId" });
    const plan = planTopology(compiled, {
      vhost: "/",
      vhostExists: true,
      exchanges: [],
      queues: [],
      bindings: [],
    });
    const details = plan.steps.map((s) => `${s.kind} ${s.name}: ${s.detail}`);
    expect(details).toContain(
      'exchange orders.fulfil.partitions: x-consistent-hash (partitions by header "orderId")',
    );
    expect(details).toContain(
      "queue orders.fulfil.p0: quorum partition of orders.fulfil (single active consumer; dead-letters to orders.fulfil.dlq)",
    );
    expect(details).toContain('binding orders -> exchange orders.fulfil.partitions "order.*": ');

    const error = missingPluginError(compiled, ["direct", "fanout", "topic", "headers"]);
    expect(error?.code).toBe("WARREN_TOPOLOGY_PLUGIN_MISSING");
    expect(error?.message).toContain("rabbitmq-plugins enable rabbitmq_consistent_hash_exchange");
    expect(error?.message).toContain('"orders.fulfil.partitions"');
    expect(missingPluginError(compiled, ["topic", "x-consistent-hash"])).toBeUndefined();
  });
});
