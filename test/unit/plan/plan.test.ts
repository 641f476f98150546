import { describe, expect, it } from "vitest";
import type { ManagementQueue } from "../../../src/management/client.ts";
import type { CompiledTopology } from "../../../src/topology/model.ts";
import { normaliseObserved, type ObservedTopology } from "../../../src/topology/observe.ts";
import { planTopology } from "../../../src/topology/plan.ts";

const quorum = (extra: Record<string, string | number>) => ({
  "x-queue-type": "quorum",
  "x-dead-letter-exchange": "",
  ...extra,
});

/** A small compiled topology: one topic exchange, one work queue with one retry tier and its DLQ. */
function desired(): CompiledTopology {
  return {
    vhost: "/",
    exchanges: [
      {
        name: "orders",
        type: "topic",
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      },
    ],
    queues: [
      {
        name: "work",
        role: "work",
        owner: "work",
        type: "quorum",
        durable: true,
        arguments: quorum({ "x-dead-letter-routing-key": "work.dlq", "x-delivery-limit": 5 }),
      },
      {
        name: "work.retry.1s",
        role: "retry",
        owner: "work",
        type: "quorum",
        durable: true,
        arguments: quorum({ "x-dead-letter-routing-key": "work", "x-message-ttl": 1000 }),
      },
      {
        name: "work.dlq",
        role: "dlq",
        owner: "work",
        type: "quorum",
        durable: true,
        arguments: { "x-queue-type": "quorum" },
      },
    ],
    bindings: [
      {
        source: "orders",
        destination: "work",
        destinationType: "queue",
        routingKey: "order.*",
        arguments: {},
      },
    ],
    retryPolicies: {},
    delays: {},
  };
}

function empty(vhostExists = true): ObservedTopology {
  return { vhost: "/", vhostExists, exchanges: [], queues: [], bindings: [] };
}

/** What the broker would report after applying `desired()`. */
function applied(): ObservedTopology {
  const d = desired();
  return {
    vhost: "/",
    vhostExists: true,
    exchanges: d.exchanges.map((e) => ({ ...e, arguments: { ...e.arguments } })),
    queues: d.queues.map((q) => ({
      name: q.name,
      type: q.type,
      durable: true,
      autoDelete: false,
      messages: 0,
      arguments: { ...q.arguments },
    })),
    bindings: d.bindings.map((b) => ({ ...b })),
  };
}

const statusOf = (plan: ReturnType<typeof planTopology>, kind: string, name: string) =>
  plan.steps.find((s) => s.kind === kind && s.name === name)?.status;

describe("planTopology", () => {
  it("creates everything, the vhost included, when the vhost does not exist", () => {
    const plan = planTopology(desired(), empty(false));
    expect(plan.steps.map((s) => `${s.kind}:${s.status}`)).toEqual([
      "vhost:create",
      "exchange:create",
      "queue:create",
      "queue:create",
      "queue:create",
      "binding:create",
    ]);
    expect(plan.hasChanges).toBe(true);
    expect(plan.hasConflicts).toBe(false);
    expect(plan.summary).toEqual({ create: 6, unchanged: 0, conflict: 0, notDeclared: 0 });
  });

  it("orders steps for apply: exchanges, exchange bindings, queues, queue bindings", () => {
    const d = desired();
    d.exchanges.push({
      name: "audit",
      type: "fanout",
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
    });
    d.bindings.push({
      source: "orders",
      destination: "audit",
      destinationType: "exchange",
      routingKey: "#",
      arguments: {},
    });
    const kinds = planTopology(d, empty()).steps.map((s) => `${s.kind}:${s.name}`);
    expect(kinds).toEqual([
      "vhost:/",
      "exchange:orders",
      "exchange:audit",
      'binding:orders -> exchange audit "#"',
      "queue:work",
      "queue:work.retry.1s",
      "queue:work.dlq",
      'binding:orders -> work "order.*"',
    ]);
  });

  it("reports no changes when the broker holds exactly the file's objects", () => {
    const plan = planTopology(desired(), applied());
    expect(plan.steps.every((s) => s.status === "unchanged")).toBe(true);
    expect(plan.hasChanges).toBe(false);
    expect(plan.hasConflicts).toBe(false);
  });

  it("flags a queue whose TTL differs, with both values and the way out", () => {
    const observed = applied();
    const retry = observed.queues.find((q) => q.name === "work.retry.1s")!;
    retry.arguments["x-message-ttl"] = 5000;
    retry.messages = 3;
    const plan = planTopology(desired(), observed);
    const step = plan.steps.find((s) => s.name === "work.retry.1s")!;
    expect(step.status).toBe("conflict");
    expect(step.differences).toEqual([{ property: "x-message-ttl", desired: 1000, actual: 5000 }]);
    expect(step.detail).toContain("x-message-ttl: file 1000, broker 5000");
    expect(step.detail).toContain("delete the queue after draining it (it holds 3 messages)");
    expect(step.detail).toContain("rename it in the file");
    expect(plan.hasConflicts).toBe(true);
  });

  it("flags a queue of another type (classic vs quorum) as a conflict on x-queue-type", () => {
    const observed = applied();
    const work = observed.queues.find((q) => q.name === "work")!;
    work.type = "classic";
    work.arguments = { "x-queue-type": "classic" };
    const step = planTopology(desired(), observed).steps.find((s) => s.name === "work")!;
    expect(step.status).toBe("conflict");
    expect(step.differences).toContainEqual({
      property: "x-queue-type",
      desired: "quorum",
      actual: "classic",
    });
    expect(step.differences).toContainEqual({
      property: "x-delivery-limit",
      desired: 5,
      actual: undefined,
    });
    expect(step.detail).toContain("x-delivery-limit: file 5, broker (not set)");
  });

  it("treats a number and the same digits as a string as different values", () => {
    const observed = applied();
    observed.queues.find((q) => q.name === "work.retry.1s")!.arguments["x-message-ttl"] = "1000";
    const step = planTopology(desired(), observed).steps.find((s) => s.name === "work.retry.1s")!;
    expect(step.status).toBe("conflict");
    expect(step.detail).toContain('x-message-ttl: file 1000, broker "1000"');
  });

  it("flags an exchange of another type and explains how to resolve it", () => {
    const observed = applied();
    observed.exchanges[0]!.type = "direct";
    const step = planTopology(desired(), observed).steps.find((s) => s.name === "orders")!;
    expect(step.status).toBe("conflict");
    expect(step.detail).toContain('type: file "topic", broker "direct"');
    expect(step.detail).toContain("delete the exchange");
  });

  it("reports objects only on the broker as not declared, never as changes", () => {
    const observed = applied();
    observed.queues.push({
      name: "legacy",
      type: "classic",
      durable: true,
      autoDelete: false,
      messages: 7,
      arguments: { "x-queue-type": "classic" },
    });
    observed.queues.push({
      name: "work.retry.5s",
      type: "quorum",
      durable: true,
      autoDelete: false,
      messages: 0,
      arguments: { "x-queue-type": "quorum" },
    });
    observed.exchanges.push({
      name: "old",
      type: "fanout",
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
    });
    observed.bindings.push({
      source: "old",
      destination: "legacy",
      destinationType: "queue",
      routingKey: "",
      arguments: {},
    });
    const plan = planTopology(desired(), observed);
    expect(statusOf(plan, "queue", "legacy")).toBe("not-declared");
    expect(statusOf(plan, "exchange", "old")).toBe("not-declared");
    expect(statusOf(plan, "binding", "old -> legacy")).toBe("not-declared");
    expect(plan.steps.find((s) => s.name === "legacy")!.detail).toContain("7 messages");
    expect(plan.steps.find((s) => s.name === "work.retry.5s")!.detail).toContain(
      "retry tier of work no longer in the file",
    );
    expect(plan.hasChanges).toBe(false);
    expect(plan.summary.notDeclared).toBe(4);
  });

  it("creates a binding whose routing key differs and keeps the old one as not declared", () => {
    const observed = applied();
    observed.bindings[0]!.routingKey = "order.#";
    const plan = planTopology(desired(), observed);
    expect(statusOf(plan, "binding", 'orders -> work "order.*"')).toBe("create");
    expect(statusOf(plan, "binding", 'orders -> work "order.#"')).toBe("not-declared");
  });

  it("compares binding arguments by value, whatever their key order", () => {
    const d = desired();
    d.bindings[0] = {
      ...d.bindings[0]!,
      routingKey: "",
      arguments: { "x-match": "all", kind: "a" },
    };
    const observed = applied();
    observed.bindings[0] = {
      ...observed.bindings[0]!,
      routingKey: "",
      arguments: { kind: "a", "x-match": "all" },
    };
    expect(planTopology(d, observed).hasChanges).toBe(false);
  });
});

describe("normaliseObserved", () => {
  const queue = (over: Partial<ManagementQueue>): ManagementQueue => ({
    name: "q",
    vhost: "/",
    durable: true,
    auto_delete: false,
    exclusive: false,
    arguments: {},
    ...over,
  });

  it("leaves out the default and amq.* exchanges, server-named and exclusive queues, and default-exchange bindings", () => {
    const observed = normaliseObserved("/", {
      exchanges: [
        {
          name: "",
          vhost: "/",
          type: "direct",
          durable: true,
          auto_delete: false,
          internal: false,
          arguments: {},
        },
        {
          name: "amq.topic",
          vhost: "/",
          type: "topic",
          durable: true,
          auto_delete: false,
          internal: false,
          arguments: {},
        },
        {
          name: "orders",
          vhost: "/",
          type: "topic",
          durable: true,
          auto_delete: false,
          internal: false,
          arguments: {},
        },
      ],
      queues: [
        queue({ name: "amq.gen-abc", exclusive: true }),
        queue({ name: "reply", exclusive: true }),
        queue({ name: "work", type: "classic", messages: 2 }),
      ],
      bindings: [
        {
          source: "",
          vhost: "/",
          destination: "work",
          destination_type: "queue",
          routing_key: "work",
          arguments: {},
          properties_key: "work",
        },
        {
          source: "orders",
          vhost: "/",
          destination: "work",
          destination_type: "queue",
          routing_key: "k",
          arguments: {},
          properties_key: "k",
        },
      ],
    });
    expect(observed.exchanges.map((e) => e.name)).toEqual(["orders"]);
    expect(observed.queues.map((q) => q.name)).toEqual(["work"]);
    expect(observed.bindings.map((b) => b.source)).toEqual(["orders"]);
  });

  it("fills x-queue-type from the queue's type when the broker omits the argument", () => {
    const observed = normaliseObserved("/", {
      exchanges: [],
      queues: [
        queue({ name: "c", type: "classic" }),
        queue({ name: "qq", type: "quorum", arguments: { "x-queue-type": "quorum" } }),
      ],
      bindings: [],
    });
    expect(observed.queues.map((q) => q.arguments["x-queue-type"])).toEqual(["classic", "quorum"]);
  });
});
