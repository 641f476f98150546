import { describe, expect, it } from "vitest";
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import { routesToQueue, topicMatches } from "../../../src/topology/route.ts";
import { topologyRefusal, yaml } from "../../support/topology-text.ts";

const failure = (text: string) => topologyRefusal(text);

describe("publish delays in the topology", () => {
  it("compiles each delay to a fanout wait exchange and a quorum TTL queue that dead-letters into the exchange", () => {
    const compiled = compileTopology(
      resolveTopology({ exchanges: { orders: { type: "topic", delays: ["10m", "1h"] } } }),
    );
    expect(compiled.delays).toEqual({
      orders: [
        { exchange: "orders", delayMs: 600_000, name: "orders.delay.10m" },
        { exchange: "orders", delayMs: 3_600_000, name: "orders.delay.1h" },
      ],
    });
    expect(compiled.exchanges.map((e) => [e.name, e.type])).toEqual([
      ["orders", "topic"],
      ["orders.delay.10m", "fanout"],
      ["orders.delay.1h", "fanout"],
    ]);
    expect(compiled.queues.find((q) => q.name === "orders.delay.10m")).toEqual({
      name: "orders.delay.10m",
      role: "delay",
      owner: "orders",
      type: "quorum",
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-message-ttl": 600_000,
        "x-dead-letter-exchange": "orders",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
      },
    });
    expect(compiled.bindings).toContainEqual({
      source: "orders.delay.1h",
      destination: "orders.delay.1h",
      destinationType: "queue",
      routingKey: "",
      arguments: {},
    });
  });

  it("refuses a wait name that is a declared queue, pointing at the delay's line", () => {
    const error = failure(
      yaml([
        "exchanges:",
        "  orders:",
        "    type: topic",
        "    delays: [1m, 10m]",
        "queues:",
        "  orders.delay.10m: {}",
      ]),
    );
    expect(error.issues).toEqual([
      {
        path: "exchanges.orders.delays[1]",
        line: 4,
        message:
          'the wait exchange and queue of this delay would be named "orders.delay.10m", which is the declared queue "orders.delay.10m"; rename that object or this exchange',
      },
    ]);
  });

  it("refuses a wait name that is a declared exchange", () => {
    const exchange = failure(
      yaml([
        "exchanges:",
        "  a:",
        "    type: fanout",
        "    delays: [5s]",
        "  a.delay.5s:",
        "    type: fanout",
      ]),
    );
    expect(exchange.issues[0]?.message).toContain('the declared exchange "a.delay.5s"');
  });

  it("refuses a zero, duplicate or malformed delay", () => {
    const error = failure(
      yaml(["exchanges:", "  a:", "    type: fanout", "    delays: [0, 5s, 5000, soon]"]),
    );
    expect(error.issues.map((i) => i.path)).toEqual(["exchanges.a.delays[3]"]);
    const rules = failure(
      yaml(["exchanges:", "  a:", "    type: fanout", "    delays: [0, 5s, 5000]"]),
    );
    expect(rules.issues.map((i) => [i.path, i.message])).toEqual([
      [
        "exchanges.a.delays[0]",
        "a publish delay must be at least 1ms; publish without delay instead of 0",
      ],
      ["exchanges.a.delays[2]", "5s is declared twice; remove the duplicate"],
    ]);
  });
});

describe("routesToQueue", () => {
  const compiled = compileTopology(
    resolveTopology({
      exchanges: {
        events: { type: "topic", alternateExchange: "lost" },
        lost: { type: "fanout" },
        direct: { type: "direct" },
        fan: { type: "fanout", bindings: [{ exchange: "direct", routingKey: "k" }] },
        hdr: { type: "headers" },
      },
      queues: {
        work: { bindings: [{ exchange: "events", routingKey: "order.*.created" }] },
        fanned: { bindings: [{ exchange: "fan" }] },
        byHeader: {
          bindings: [{ exchange: "hdr", headers: { match: "any", region: "eu", tier: 1 } }],
        },
      },
    }),
  );

  it("follows topic patterns, exchange-to-exchange bindings and headers", () => {
    expect(routesToQueue(compiled, "events", "order.eu.created")).toBe(true);
    expect(routesToQueue(compiled, "direct", "k")).toBe(true);
    expect(routesToQueue(compiled, "direct", "other")).toBe(false);
    expect(routesToQueue(compiled, "hdr", "", { region: "eu" })).toBe(true);
    expect(routesToQueue(compiled, "hdr", "", { region: "us" })).toBe(false);
    expect(routesToQueue(compiled, "nowhere", "x")).toBeUndefined();
  });

  it("counts an alternate exchange only when it reaches a queue", () => {
    // "lost" has no queue bound, so the alternate exchange does not help.
    expect(routesToQueue(compiled, "events", "invoice.paid")).toBe(false);
  });

  it("matches topic wildcards like the broker", () => {
    const t = (pattern: string, key: string) => topicMatches(pattern.split("."), key.split("."));
    expect(t("#", "a.b")).toBe(true);
    expect(t("a.#", "a")).toBe(true);
    expect(t("a.*", "a")).toBe(false);
    expect(t("*.b.#", "x.b.c.d")).toBe(true);
    expect(t("a.*.c", "a.b.b.c")).toBe(false);
  });
});

describe("queue priority in the topology", () => {
  it("compiles priority to x-max-priority on a classic queue", () => {
    const compiled = compileTopology(
      resolveTopology({ queues: { q: { type: "classic", priority: 10 } } }),
    );
    expect(compiled.queues.find((q) => q.name === "q")?.arguments["x-max-priority"]).toBe(10);
  });

  it("refuses priority on a quorum queue, above 255, and set twice", () => {
    const quorum = failure(yaml(["queues:", "  q:", "    priority: 5"]));
    expect(quorum.issues).toEqual([
      {
        path: "queues.q.priority",
        line: 3,
        message:
          "priority is for classic queues only: quorum queues on RabbitMQ 3.10 do not support x-max-priority (the broker refuses it); set type: classic or remove priority",
      },
    ]);
    const high = failure(yaml(["queues:", "  q:", "    type: classic", "    priority: 256"]));
    expect(high.issues[0]?.message).toContain("at most 255 priority levels");
    const twice = failure(
      yaml([
        "queues:",
        "  q:",
        "    type: classic",
        "    priority: 5",
        "    arguments: { x-max-priority: 5 }",
      ]),
    );
    expect(twice.issues[0]?.path).toBe('queues.q.arguments."x-max-priority"');
  });
});
