// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topology files use ${VAR} interpolation
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTopology, parseTopology, resolveTopology } from "../../../src/topology/load.ts";
import { topologyRefusal, yaml } from "../../support/topology-text.ts";

/** The TopologyError parsing `text` as orders.yaml throws. */
const failure = (text: string, env: Record<string, string> = {}, fileName = "orders.yaml") =>
  topologyRefusal(text, env, fileName);

describe("loadTopology", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "warren-topology-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the example topology with every default applied", async () => {
    const topology = await loadTopology("topology/orders.yaml");
    expect(topology.vhost).toBe("/");
    expect(Object.keys(topology.exchanges)).toEqual(["orders", "notifications", "billing"]);
    expect(topology.exchanges.orders).toEqual({
      type: "topic",
      durable: true,
      autoDelete: false,
      internal: false,
      bindings: [],
      delaysMs: [],
    });
    expect(topology.queues["orders.fulfil"]).toEqual({
      type: "quorum",
      durable: true,
      bindings: [{ exchange: "orders", routingKey: "order.*" }],
      retry: { delaysMs: [1000, 10_000, 60_000], maxAttempts: 4 },
      deliveryLimit: 5,
      maxLength: 100_000,
      overflow: "reject-publish",
      singleActiveConsumer: false,
      arguments: {},
    });
    expect(topology.queues["email.send"]?.retry).toEqual({ delaysMs: [5000], maxAttempts: 2 });
    expect(topology.queues["email.send"]?.deliveryLimit).toBe(20);
    expect(topology.queues.invoices).toMatchObject({ type: "classic", retry: { maxAttempts: 1 } });
    expect(topology.queues.invoices).not.toHaveProperty("deliveryLimit");
    expect(topology.queues.invoices).not.toHaveProperty("overflow");
  });

  it("reads JSON files, ignoring a top-level $schema", async () => {
    const file = join(dir, "t.json");
    await writeFile(
      file,
      JSON.stringify({
        $schema: "./topology.schema.json",
        exchanges: { orders: { type: "topic" } },
        queues: { q: { bindings: [{ exchange: "orders", routingKey: "#" }], messageTtl: "1h" } },
      }),
    );
    const topology = await loadTopology(file);
    expect(topology.queues.q?.messageTtlMs).toBe(3_600_000);
    expect(topology).not.toHaveProperty("$schema");
  });

  it("refuses a file that does not exist, naming it", async () => {
    const file = join(dir, "missing.yaml");
    await expect(loadTopology(file)).rejects.toMatchObject({
      code: "WARREN_TOPOLOGY_NOT_FOUND",
      message: `${file}: topology file not found; check the path (relative paths start from ${process.cwd()})`,
    });
  });

  it("refuses a directory as unreadable", async () => {
    await expect(loadTopology(dir)).rejects.toMatchObject({
      code: "WARREN_TOPOLOGY_UNREADABLE",
      message: `${dir}: cannot read the topology file (EISDIR); it must be a readable file`,
    });
  });
});

describe("parseTopology", () => {
  it("refuses an empty file", () => {
    const error = failure("# nothing yet\n");
    expect(error.code).toBe("WARREN_TOPOLOGY_INVALID");
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (1 problem):",
        "  orders.yaml: the file is empty; declare exchanges and queues (see docs/topology.md)",
      ].join("\n"),
    );
  });

  it("refuses invalid YAML with the line of the syntax error", () => {
    const error = failure(yaml(["queues:", "  a:", "    type: quorum", "   retry: {}"]));
    expect(error.code).toBe("WARREN_TOPOLOGY_PARSE");
    expect(error.message).toBe(
      [
        "orders.yaml: not valid YAML (1 problem):",
        "  orders.yaml:4: All mapping items must start at the same column",
      ].join("\n"),
    );
    expect(error.issues).toEqual([
      { path: "", line: 4, message: "All mapping items must start at the same column" },
    ]);
  });

  it("refuses duplicate keys as invalid YAML", () => {
    const error = failure(yaml(["queues:", "  a: {}", "  a: {}"]));
    expect(error.code).toBe("WARREN_TOPOLOGY_PARSE");
    expect(error.message).toBe(
      ["orders.yaml: not valid YAML (1 problem):", "  orders.yaml:3: Map keys must be unique"].join(
        "\n",
      ),
    );
  });

  it("refuses invalid JSON with the line of the syntax error", () => {
    const error = failure('{\n  "queues": {\n    "a": {},\n  }\n}\n', {}, "orders.json");
    expect(error.code).toBe("WARREN_TOPOLOGY_PARSE");
    expect(error.message).toBe(
      [
        "orders.json: not valid JSON (1 problem):",
        "  orders.json:4: Expected double-quoted property name in JSON at position 31",
      ].join("\n"),
    );
  });

  it("refuses unknown keys, suggesting the closest known key", () => {
    const error = failure(
      yaml([
        "exchanges:",
        "  orders: { type: topic, durabel: true }",
        "queues:",
        "  orders.fulfil:",
        "    bindings:",
        '      - { exchange: orders, routingkey: "order.*" }',
        "    retyr: { delays: [1s] }",
        "    colour: blue",
      ]),
    );
    expect(error.code).toBe("WARREN_TOPOLOGY_INVALID");
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (4 problems):",
        '  orders.yaml:2: exchanges.orders.durabel: unknown key "durabel" (did you mean "durable"?)',
        '  orders.yaml:6: queues."orders.fulfil".bindings[0].routingkey: unknown key "routingkey" (did you mean "routingKey"?)',
        '  orders.yaml:7: queues."orders.fulfil".retyr: unknown key "retyr" (did you mean "retry"?)',
        '  orders.yaml:8: queues."orders.fulfil".colour: unknown key "colour" (allowed: type, durable, bindings, retry, deliveryLimit, initialGroupSize, maxLength, maxLengthBytes, overflow, messageTtl, singleActiveConsumer, priority, partitions, partitionBy, deadLetter, arguments)',
      ].join("\n"),
    );
    expect(error.issues[0]).toEqual({
      path: "exchanges.orders.durabel",
      line: 2,
      message: 'unknown key "durabel" (did you mean "durable"?)',
    });
  });

  it("refuses an unknown exchange type, suggesting the closest one", () => {
    const error = failure(yaml(["exchanges:", "  orders: { type: fanuot }", "  billing: {}"]));
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (2 problems):",
        '  orders.yaml:2: exchanges.orders.type: "fanuot" is not one of: direct, fanout, topic, headers (did you mean "fanout"?)',
        "  orders.yaml:3: exchanges.billing.type: is required: one of direct, fanout, topic, headers",
      ].join("\n"),
    );
  });

  it("refuses a binding to an exchange that is not declared, listing those that are", () => {
    const error = failure(
      yaml([
        "exchanges:",
        "  orders: { type: topic }",
        "  notifications: { type: fanout }",
        "  billing: { type: direct }",
        "queues:",
        "  orders.fulfil:",
        "    bindings:",
        '      - { exchange: order, routingKey: "order.*" }',
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (1 problem):",
        '  orders.yaml:8: queues."orders.fulfil".bindings[0]: exchange "order" is not declared (declared: orders, notifications, billing)',
      ].join("\n"),
    );
  });

  it("refuses alternate, dead-letter and source exchanges that are not declared", () => {
    const error = failure(
      yaml([
        "exchanges:",
        "  orders: { type: topic, alternateExchange: unrouted }",
        "  audit: { type: fanout, bindings: [{ exchange: everything }] }",
        "queues:",
        "  q:",
        "    deadLetter: { exchange: parking }",
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (3 problems):",
        '  orders.yaml:2: exchanges.orders.alternateExchange: alternate exchange "unrouted" is not declared (declared: orders, audit)',
        '  orders.yaml:3: exchanges.audit.bindings[0]: exchange "everything" is not declared (declared: orders, audit)',
        '  orders.yaml:6: queues.q.deadLetter.exchange: dead-letter exchange "parking" is not declared (declared: orders, audit)',
      ].join("\n"),
    );
  });

  it("refuses bindings whose form does not fit the exchange type", () => {
    const error = failure(
      yaml([
        "exchanges:",
        "  n: { type: fanout }",
        "  o: { type: topic }",
        "  h: { type: headers }",
        "queues:",
        "  a:",
        "    bindings:",
        "      - { exchange: n, routingKey: x }",
        "      - { exchange: o }",
        "      - { exchange: h }",
        "      - { exchange: o, routingKey: a, headers: { k: v } }",
        "      - { exchange: h, headers: { match: any, format: pdf } }",
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (4 problems):",
        '  orders.yaml:8: queues.a.bindings[0].routingKey: exchange "n" is a fanout exchange and ignores routing keys; remove routingKey',
        '  orders.yaml:9: queues.a.bindings[1]: exchange "o" is a topic exchange: add a routingKey (e.g. "#" for every message)',
        '  orders.yaml:10: queues.a.bindings[2]: exchange "h" is a headers exchange: add headers: { match: all, <header>: <value> }',
        '  orders.yaml:11: queues.a.bindings[3].headers: exchange "o" is a topic exchange and ignores headers; remove headers',
      ].join("\n"),
    );
  });

  it("interpolates ${VAR} and ${VAR:-default} in names and the vhost", () => {
    const topology = parseTopology(
      yaml([
        "vhost: ${VHOST:-/}",
        "exchanges:",
        "  ${TEAM}.events: { type: topic }",
        "queues:",
        "  ${TEAM}.work:",
        "    bindings: [{ exchange: \"${TEAM}.events\", routingKey: '#' }]",
        "  literal.$${NOT_A_VAR}: {}",
      ]),
      { fileName: "orders.yaml", env: { TEAM: "billing" } },
    );
    expect(topology.vhost).toBe("/");
    expect(Object.keys(topology.exchanges)).toEqual(["billing.events"]);
    expect(Object.keys(topology.queues)).toEqual(["billing.work", "literal.${NOT_A_VAR}"]);
    expect(topology.queues["billing.work"]?.bindings[0]?.exchange).toBe("billing.events");
  });

  it("names each unset environment variable and where it is used", () => {
    const error = failure(yaml(["vhost: ${VHOST}", "queues:", "  ${TEAM}.work: {}"]));
    expect(error.code).toBe("WARREN_TOPOLOGY_ENV");
    expect(error.message).toBe(
      [
        "orders.yaml: unset environment variables (2 problems):",
        "  orders.yaml:1: vhost: environment variable VHOST is not set; set it or write ${VHOST:-default}",
        '  orders.yaml:3: queues."${TEAM}.work": environment variable TEAM is not set; set it or write ${TEAM:-default}',
      ].join("\n"),
    );
  });

  it("refuses names that are the same after interpolation", () => {
    const error = failure(
      yaml(["exchanges:", "  ${TEAM}.events: { type: topic }", "  orders.events: { type: topic }"]),
      { TEAM: "orders" },
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (1 problem):",
        '  orders.yaml:3: exchanges."orders.events": "orders.events" is declared twice after ${...} interpolation (first at line 2); names must be unique',
      ].join("\n"),
    );
  });

  it("refuses negative and unparseable durations", () => {
    const error = failure(
      yaml([
        "queues:",
        "  a:",
        '    retry: { delays: [-1s, "10 sec", 1.5, -3], maxAttempts: 5 }',
        "    messageTtl: soon",
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (5 problems):",
        '  orders.yaml:3: queues.a.retry.delays[0]: "-1s" is negative; a duration is 0 or more',
        '  orders.yaml:3: queues.a.retry.delays[1]: "10 sec" is not a duration; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h',
        "  orders.yaml:3: queues.a.retry.delays[2]: 1.5 is not a whole number of milliseconds; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h",
        "  orders.yaml:3: queues.a.retry.delays[3]: -3 is negative; a duration is 0 or more",
        '  orders.yaml:4: queues.a.messageTtl: "soon" is not a duration; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h',
      ].join("\n"),
    );
  });

  it("refuses maxAttempts below 1", () => {
    const error = failure(yaml(["queues:", "  a:", "    retry: { delays: [1s], maxAttempts: 0 }"]));
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (1 problem):",
        "  orders.yaml:3: queues.a.retry.maxAttempts: must be at least 1 (the first attempt counts)",
      ].join("\n"),
    );
  });

  it("refuses retry settings with no way back or that can never be used", () => {
    const error = failure(
      yaml([
        "queues:",
        "  a:",
        "    retry: { delays: [1s], maxAttempts: 1 }",
        "  b:",
        "    retry: { maxAttempts: 3 }",
        "  c:",
        "    retry: { delays: [1s, 10s, 1m], maxAttempts: 2 }",
        "  d:",
        "    retry: { delays: [0] }",
        "  e:",
        "    arguments: { x-dead-letter-exchange: other, x-dead-letter-routing-key: e }",
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (6 problems):",
        '  orders.yaml:3: queues.a.retry: delays are never used: maxAttempts is 1, so a failed message goes straight to "a.dlq"; raise maxAttempts to 2 or remove delays',
        "  orders.yaml:5: queues.b.retry: maxAttempts is 3 but no delays are given, so a failed message has no retry queue to wait in before it returns; add delays (e.g. delays: [10s]) or set maxAttempts: 1",
        "  orders.yaml:7: queues.c.retry.delays[1]: 10s is never used: maxAttempts 2 allows 1 retry; remove the extra delays or raise maxAttempts to 4",
        "  orders.yaml:9: queues.d.retry.delays[0]: a retry delay must be at least 1ms; 0 would retry at once, with no back-off",
        `  orders.yaml:11: queues.e.arguments."x-dead-letter-exchange": "x-dead-letter-exchange" is set by warren; warren points it at the queue's .dlq so that no dead letter is lost; to send the broker's dead letters elsewhere use deadLetter: { exchange, routingKey }`,
        `  orders.yaml:11: queues.e.arguments."x-dead-letter-routing-key": "x-dead-letter-routing-key" is set by warren; warren points it at the queue's .dlq so that no dead letter is lost; to send the broker's dead letters elsewhere use deadLetter: { exchange, routingKey }`,
      ].join("\n"),
    );
  });

  it("refuses a non-durable queue and says why", () => {
    const error = failure(yaml(["queues:", "  a: { durable: false }"]));
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (1 problem):",
        "  orders.yaml:2: queues.a.durable: warren declares every queue durable: a non-durable queue loses its messages when the broker restarts; remove durable: false",
      ].join("\n"),
    );
  });

  it("refuses classic-only arguments on a quorum queue and quorum-only options on a classic one", () => {
    const error = failure(
      yaml([
        "queues:",
        "  a:",
        "    arguments: { x-max-priority: 10, x-queue-mode: lazy, x-expires: 60000 }",
        "  b:",
        "    type: classic",
        "    deliveryLimit: 3",
        "    arguments: { x-quorum-initial-group-size: 3, x-max-prority: 3, x-delivery-limit: 3 }",
        "  c:",
        "    overflow: drop-head",
        "  d:",
        "    type: classic",
        "    overflow: reject-publish-dlx",
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (8 problems):",
        '  orders.yaml:3: queues.a.arguments."x-max-priority": "x-max-priority" is for classic queues only; RabbitMQ refuses it on a quorum queue (remove it or set type: classic)',
        '  orders.yaml:3: queues.a.arguments."x-queue-mode": "x-queue-mode" is for classic queues only; RabbitMQ refuses it on a quorum queue (remove it or set type: classic)',
        "  orders.yaml:6: queues.b.deliveryLimit: deliveryLimit is for quorum queues only (RabbitMQ refuses x-delivery-limit on a classic queue); remove it or set type: quorum",
        '  orders.yaml:7: queues.b.arguments."x-quorum-initial-group-size": "x-quorum-initial-group-size" is for quorum queues only; RabbitMQ refuses it on a classic queue (remove it or set type: quorum)',
        '  orders.yaml:7: queues.b.arguments."x-max-prority": "x-max-prority" is not a queue argument warren knows (did you mean "x-max-priority"?)',
        '  orders.yaml:7: queues.b.arguments."x-delivery-limit": "x-delivery-limit" is set by warren; use deliveryLimit instead',
        '  orders.yaml:9: queues.c.overflow: overflow "drop-head" is not available on a quorum queue: warren dead-letters quorum queues at-least-once, which RabbitMQ honours only with reject-publish; remove overflow or set type: classic',
        "  orders.yaml:12: queues.d.overflow: overflow has no effect without maxLength or maxLengthBytes; add a limit or remove overflow",
      ].join("\n"),
    );
  });

  it("accepts known raw arguments that fit the queue type", () => {
    const topology = parseTopology(
      yaml([
        "queues:",
        "  a:",
        "    arguments: { x-quorum-initial-group-size: 3, x-expires: 3600000 }",
        "  b:",
        "    type: classic",
        "    arguments: { x-max-priority: 10, x-queue-version: 2 }",
      ]),
      { fileName: "orders.yaml", env: {} },
    );
    expect(topology.queues.b?.arguments).toEqual({ "x-max-priority": 10, "x-queue-version": 2 });
  });

  it("refuses queues named like another queue's retry tier or dead-letter queue", () => {
    const error = failure(
      yaml([
        "queues:",
        "  a: { retry: { delays: [1s] } }",
        "  a.retry.1s: {}",
        "  a.dlq: {}",
        "  amq.x: {}",
      ]),
    );
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (3 problems):",
        '  orders.yaml:3: queues."a.retry.1s": "a.retry.1s" is a retry queue of queue "a"; rename this queue',
        '  orders.yaml:4: queues."a.dlq": "a.dlq" is the dead-letter queue of queue "a"; rename this queue',
        '  orders.yaml:5: queues."amq.x": names starting with "amq." are reserved by RabbitMQ; rename the queue',
      ].join("\n"),
    );
  });

  it("reports wrong value types in words", () => {
    const error = failure(yaml(["vhost: [a]", "queues:", "  a: { maxLength: 0.5, bindings: {} }"]));
    expect(error.message).toBe(
      [
        "orders.yaml: invalid topology (3 problems):",
        "  orders.yaml:1: vhost: expected a string, got a list",
        "  orders.yaml:3: queues.a.bindings: expected a list, got a mapping",
        "  orders.yaml:3: queues.a.maxLength: expected an integer, got 0.5",
      ].join("\n"),
    );
  });
});

describe("resolveTopology", () => {
  it("validates a topology built in code, without lines", () => {
    expect(() =>
      resolveTopology({ queues: { a: { bindings: [{ exchange: "nope", routingKey: "x" }] } } }),
    ).toThrow(
      'topology: invalid topology (1 problem):\n  topology: queues.a.bindings[0]: exchange "nope" is not declared (no exchanges are declared)',
    );
  });
});
