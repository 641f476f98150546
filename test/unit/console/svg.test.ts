import { describe, expect, it } from "vitest";
import { consoleTopologyFromCompiled, groupQueueNames } from "../../../src/console/model.ts";
import { renderTopologySvg } from "../../../src/console/svg.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { loadTopology } from "../../../src/topology/load.ts";

describe("the topology drawing", () => {
  it("draws every exchange, work queue, retry tier and dead-letter queue of topology/orders.yaml, with the bindings' keys", async () => {
    const compiled = compileTopology(await loadTopology("topology/orders.yaml"));
    const svg = renderTopologySvg(consoleTopologyFromCompiled(compiled));
    for (const text of [
      "orders (topic)",
      "notifications (fanout)",
      "billing (direct)",
      "orders.fulfil (quorum)",
      "orders.fulfil.retry.1s  wait 1s",
      "orders.fulfil.retry.10s  wait 10s",
      "orders.fulfil.retry.1m  wait 1m",
      "orders.fulfil.dlq",
      "email.send.retry.5s  wait 5s",
      "invoices (classic)",
      "invoices.dlq",
      "order.*",
      "invoice",
    ]) {
      expect(svg).toContain(`>${text}<`);
    }
    // One binding line per binding of the file (three queue bindings).
    expect(svg.match(/class="binding"/g)).toHaveLength(3);
    expect(svg.match(/class="dlq-edge"/g)).toHaveLength(3);
    expect(svg.match(/class="tier-edge"/g)).toHaveLength(4);
  });

  it("escapes names found on a broker, so a name cannot inject markup", () => {
    const hostile = '<script>alert(1)</script>"&';
    const svg = renderTopologySvg({
      vhost: "/",
      source: "broker",
      exchanges: [{ name: hostile, type: "topic" }],
      bindings: [
        { source: hostile, destination: hostile, destinationType: "queue", routingKey: hostile },
      ],
      queues: groupQueueNames([
        { name: hostile, type: "classic", ttlMs: undefined },
        { name: `${hostile}.dlq`, type: "classic", ttlMs: undefined },
      ]),
    });
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;");
  });
});

describe("finding work queues on a broker by name", () => {
  it("takes a queue with a .dlq as a work queue and its .retry.<delay> queues as tiers, shortest wait first", () => {
    const queues = groupQueueNames([
      { name: "a", type: "quorum", ttlMs: undefined },
      { name: "a.dlq", type: "quorum", ttlMs: undefined },
      { name: "a.retry.1m", type: "quorum", ttlMs: 60_000 },
      { name: "a.retry.5s", type: "quorum", ttlMs: 5_000 },
      { name: "lonely", type: "classic", ttlMs: undefined },
    ]);
    expect(queues).toEqual([
      {
        name: "a",
        type: "quorum",
        tiers: [
          { queue: "a.retry.5s", delayMs: 5_000 },
          { queue: "a.retry.1m", delayMs: 60_000 },
        ],
        deadLetterQueue: "a.dlq",
        maxAttempts: undefined,
      },
    ]);
  });
});
