import { describe, expect, it } from "vitest";
import { compileTopology, retryTierFor } from "../../../src/topology/compile.ts";
import { loadTopology, resolveTopology } from "../../../src/topology/load.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

describe("compileTopology", () => {
  it("compiles the example topology to its queues, tiers, dead-letter queues and bindings", async () => {
    const compiled = compileTopology(await loadTopology("topology/orders.yaml"));
    expect(compiled.vhost).toBe("/");
    expect(compiled.exchanges).toEqual([
      {
        name: "orders",
        type: "topic",
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      },
      {
        name: "notifications",
        type: "fanout",
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      },
      {
        name: "billing",
        type: "direct",
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      },
    ]);
    expect(compiled.queues.map((q) => [q.name, q.role, q.owner, q.type])).toEqual([
      ["orders.fulfil", "work", "orders.fulfil", "quorum"],
      ["orders.fulfil.retry.1s", "retry", "orders.fulfil", "quorum"],
      ["orders.fulfil.retry.10s", "retry", "orders.fulfil", "quorum"],
      ["orders.fulfil.retry.1m", "retry", "orders.fulfil", "quorum"],
      ["orders.fulfil.dlq", "dlq", "orders.fulfil", "quorum"],
      ["email.send", "work", "email.send", "quorum"],
      ["email.send.retry.5s", "retry", "email.send", "quorum"],
      ["email.send.dlq", "dlq", "email.send", "quorum"],
      ["invoices", "work", "invoices", "classic"],
      ["invoices.dlq", "dlq", "invoices", "classic"],
    ]);
    expect(compiled.bindings).toEqual([
      {
        source: "orders",
        destination: "orders.fulfil",
        destinationType: "queue",
        routingKey: "order.*",
        arguments: {},
      },
      {
        source: "notifications",
        destination: "email.send",
        destinationType: "queue",
        routingKey: "",
        arguments: {},
      },
      {
        source: "billing",
        destination: "invoices",
        destinationType: "queue",
        routingKey: "invoice",
        arguments: {},
      },
    ]);
  });

  it("gives a quorum work queue its dead-letter queue, delivery limit and at-least-once dead-lettering", async () => {
    const compiled = compileTopology(await loadTopology("topology/orders.yaml"));
    const byName = new Map(compiled.queues.map((q) => [q.name, q]));
    expect(byName.get("orders.fulfil")).toEqual({
      name: "orders.fulfil",
      role: "work",
      owner: "orders.fulfil",
      type: "quorum",
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "orders.fulfil.dlq",
        "x-delivery-limit": 5,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-max-length": 100_000,
      },
    });
    expect(byName.get("email.send")?.arguments["x-delivery-limit"]).toBe(20);
    expect(byName.get("orders.fulfil.retry.10s")?.arguments).toEqual({
      "x-queue-type": "quorum",
      "x-message-ttl": 10_000,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": "orders.fulfil",
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
    });
    expect(byName.get("orders.fulfil.dlq")?.arguments).toEqual({ "x-queue-type": "quorum" });
  });

  it("gives a classic queue only classic arguments", async () => {
    const compiled = compileTopology(
      resolveTopology({
        queues: {
          jobs: {
            type: "classic",
            retry: { delays: ["500ms"] },
            maxLength: 10,
            maxLengthBytes: 1_000_000,
            overflow: "reject-publish-dlx",
            messageTtl: "1h",
            singleActiveConsumer: true,
            arguments: { "x-max-priority": 5 },
          },
        },
      }),
    );
    expect(compiled.queues.map((q) => [q.name, q.arguments])).toEqual([
      [
        "jobs",
        {
          "x-queue-type": "classic",
          "x-dead-letter-exchange": "",
          "x-dead-letter-routing-key": "jobs.dlq",
          "x-overflow": "reject-publish-dlx",
          "x-max-length": 10,
          "x-max-length-bytes": 1_000_000,
          "x-message-ttl": 3_600_000,
          "x-single-active-consumer": true,
          "x-max-priority": 5,
        },
      ],
      [
        "jobs.retry.500ms",
        {
          "x-queue-type": "classic",
          "x-message-ttl": 500,
          "x-dead-letter-exchange": "",
          "x-dead-letter-routing-key": "jobs",
        },
      ],
      ["jobs.dlq", { "x-queue-type": "classic" }],
    ]);
  });

  it("defaults a length-limited classic queue to reject-publish", () => {
    const compiled = compileTopology(
      resolveTopology({ queues: { q: { type: "classic", maxLength: 5 } } }),
    );
    expect(compiled.queues[0]?.arguments["x-overflow"]).toBe("reject-publish");
  });

  it("declares one tier per distinct delay but keeps the per-attempt order in the policy", () => {
    const compiled = compileTopology(
      resolveTopology({
        queues: { q: { retry: { delays: ["1s", 1000, "10s", "1s"], maxAttempts: 6 } } },
      }),
    );
    expect(compiled.queues.map((q) => q.name)).toEqual(["q", "q.retry.1s", "q.retry.10s", "q.dlq"]);
    expect(compiled.retryPolicies.q).toEqual({
      queue: "q",
      maxAttempts: 6,
      tiers: [
        { delayMs: 1000, queue: "q.retry.1s" },
        { delayMs: 1000, queue: "q.retry.1s" },
        { delayMs: 10_000, queue: "q.retry.10s" },
        { delayMs: 1000, queue: "q.retry.1s" },
      ],
      deadLetterQueue: "q.dlq",
    });
  });

  it("gives a queue without retry one attempt and no tiers", () => {
    const compiled = compileTopology(resolveTopology({ queues: { q: {} } }));
    expect(compiled.retryPolicies.q).toEqual({
      queue: "q",
      maxAttempts: 1,
      tiers: [],
      deadLetterQueue: "q.dlq",
    });
  });

  it("sends the broker's dead letters to a deadLetter override", () => {
    const compiled = compileTopology(
      resolveTopology({
        exchanges: { parking: { type: "fanout" } },
        queues: {
          a: { deadLetter: { exchange: "parking" } },
          b: { deadLetter: { exchange: "parking", routingKey: "b" } },
        },
      }),
    );
    const args = (name: string) => compiled.queues.find((q) => q.name === name)?.arguments;
    expect(args("a")).toMatchObject({ "x-dead-letter-exchange": "parking" });
    expect(args("a")).not.toHaveProperty("x-dead-letter-routing-key");
    expect(args("b")).toMatchObject({
      "x-dead-letter-exchange": "parking",
      "x-dead-letter-routing-key": "b",
    });
  });

  it("orders exchanges so that alternate exchanges and binding sources come first", () => {
    const compiled = compileTopology(
      resolveTopology({
        exchanges: {
          audit: { type: "fanout", bindings: [{ exchange: "events", routingKey: "#" }] },
          events: { type: "topic", alternateExchange: "unrouted" },
          unrouted: { type: "fanout", internal: true },
          h: { type: "headers" },
        },
        queues: {
          pdfs: {
            bindings: [{ exchange: "h", headers: { match: "any", format: "pdf", pages: 2 } }],
          },
        },
      }),
    );
    expect(compiled.exchanges.map((e) => e.name)).toEqual(["unrouted", "events", "audit", "h"]);
    expect(compiled.exchanges[1]?.arguments).toEqual({ "alternate-exchange": "unrouted" });
    expect(compiled.exchanges[0]?.internal).toBe(true);
    expect(compiled.bindings).toEqual([
      {
        source: "events",
        destination: "audit",
        destinationType: "exchange",
        routingKey: "#",
        arguments: {},
      },
      {
        source: "h",
        destination: "pdfs",
        destinationType: "queue",
        routingKey: "",
        arguments: { "x-match": "any", format: "pdf", pages: 2 },
      },
    ]);
  });
});

describe("initialGroupSize", () => {
  const topology = (queue: Record<string, unknown>) =>
    resolveTopology({ queues: { q: { retry: { delays: ["1s"] }, ...queue } } });

  it("puts x-quorum-initial-group-size on the queue, its retry tier and its dead-letter queue", () => {
    const compiled = compileTopology(topology({ initialGroupSize: 3 }));
    expect(
      compiled.queues.map((q) => [q.name, q.arguments["x-quorum-initial-group-size"]]),
    ).toEqual([
      ["q", 3],
      ["q.retry.1s", 3],
      ["q.dlq", 3],
    ]);
  });

  it("leaves the replica count to the broker when the topology does not set it", () => {
    const compiled = compileTopology(topology({}));
    for (const queue of compiled.queues) {
      expect(queue.arguments).not.toHaveProperty("x-quorum-initial-group-size");
    }
  });

  it("refuses it on a classic queue, and a raw argument that contradicts it", () => {
    expect(() => topology({ type: "classic", initialGroupSize: 3 })).toThrow(
      /q\.initialGroupSize: initialGroupSize is for quorum queues only/,
    );
    expect(() =>
      topology({ initialGroupSize: 3, arguments: { "x-quorum-initial-group-size": 2 } }),
    ).toThrow(/initialGroupSize 3 contradicts arguments."x-quorum-initial-group-size" 2/);
    expect(() => topology({ initialGroupSize: 0 })).toThrow(/initialGroupSize/);
  });
});

describe("retryTierFor", () => {
  const policy: RetryPolicy = {
    queue: "q",
    maxAttempts: 5,
    tiers: [
      { delayMs: 1000, queue: "q.retry.1s" },
      { delayMs: 10_000, queue: "q.retry.10s" },
    ],
    deadLetterQueue: "q.dlq",
  };

  it("sends attempt n to tier n, repeating the last tier, until the last attempt", () => {
    expect(retryTierFor(policy, 1)?.queue).toBe("q.retry.1s");
    expect(retryTierFor(policy, 2)?.queue).toBe("q.retry.10s");
    expect(retryTierFor(policy, 3)?.queue).toBe("q.retry.10s");
    expect(retryTierFor(policy, 4)?.queue).toBe("q.retry.10s");
    expect(retryTierFor(policy, 5)).toBeUndefined();
    expect(retryTierFor(policy, 9)).toBeUndefined();
  });

  it("has no tier for a queue with one attempt", () => {
    expect(retryTierFor({ ...policy, maxAttempts: 1, tiers: [] }, 1)).toBeUndefined();
  });

  it("refuses an attempt below 1", () => {
    expect(() => retryTierFor(policy, 0)).toThrow("attempt is 1-based, got 0");
  });
});
