// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topology files use ${VAR} interpolation
import { describe, expect, it } from "vitest";
import { interpolate } from "../../../src/topology/interpolate.ts";
import { parseTopology } from "../../../src/topology/load.ts";
import { aliasBomb } from "../../support/hostile-files.ts";
import { topologyRefusal, yaml } from "../../support/topology-text.ts";

const failure = topologyRefusal;

describe("hostile topology files", () => {
  it("refuses a YAML alias bomb under 1 KB at once, within the YAML library's alias limit", () => {
    const text = aliasBomb();
    expect(text.length).toBeLessThan(1024);
    const started = performance.now();
    const error = failure(text);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe("WARREN_TOPOLOGY_PARSE");
    expect(error.message).toMatch(/more than 100 alias expansions \(a YAML alias bomb\?\)/);
  });

  it("still expands a few aliases, e.g. one retry block shared by queues", () => {
    const topology = parseTopology(
      yaml([
        "exchanges: { ev: { type: topic } }",
        "queues:",
        "  a: { bindings: [{ exchange: ev, routingKey: a }], retry: &r { delays: [1s], maxAttempts: 2 } }",
        "  b: { bindings: [{ exchange: ev, routingKey: b }], retry: *r }",
      ]),
      { fileName: "t.yaml", env: {} },
    );
    expect(topology.queues.b?.retry).toEqual(topology.queues.a?.retry);
  });

  it("keeps keys that look like numbers or booleans as written: 007 stays 007", () => {
    const topology = parseTopology(
      yaml([
        "exchanges: { ev: { type: topic } }",
        "queues:",
        "  007: { bindings: [{ exchange: ev, routingKey: a }] }",
        "  1.50: { bindings: [{ exchange: ev, routingKey: b }] }",
        "  7: { bindings: [{ exchange: ev, routingKey: c }] }",
        "  true: { bindings: [{ exchange: ev, routingKey: d }] }",
      ]),
      { fileName: "t.yaml", env: {} },
    );
    expect(new Set(Object.keys(topology.queues))).toEqual(new Set(["007", "1.50", "7", "true"]));
  });

  it("refuses a key repeated verbatim in one mapping as a syntax problem, with its line", () => {
    const error = failure(yaml(["exchanges:", "  a: { type: topic }", "  a: { type: fanout }"]));
    expect(error.code).toBe("WARREN_TOPOLOGY_PARSE");
    expect(error.message).toBe(
      "t.yaml: not valid YAML (1 problem):\n  t.yaml:3: Map keys must be unique",
    );
  });

  it("reads a mapping of 20,000 keys in linear time (the library's pairwise key check was quadratic)", () => {
    const lines = ["exchanges: { ev: { type: topic } }", "queues:"];
    for (let i = 0; i < 20_000; i++)
      lines.push(`  q${i}: { bindings: [{ exchange: ev, routingKey: k }] }`);
    const started = performance.now();
    const topology = parseTopology(yaml(lines), { fileName: "t.yaml", env: {} });
    // Measured: minutes before, seconds after (docs/hostile-inputs.md); generous for a busy machine.
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(Object.keys(topology.queues)).toHaveLength(20_000);
  }, 120_000);
});

describe("interpolate", () => {
  const env = { A: "a", B: "b", EMPTY: "" };
  it.each([
    ["${A}", "a"],
    ["${A:-x}", "a"],
    ["${UNSET:-x}", "x"],
    ["${EMPTY:-x}", "x"],
    ["${UNSET:-}", ""],
    ["${UNSET:-${B}}", "b"],
    ["${UNSET:-${ALSO_UNSET:-deep}}", "deep"],
    ["${A:-${UNSET}}", "a"],
    ["x.${UNSET:-${B}.y}.z", "x.b.y.z"],
    ["$${A}", "${A}"],
    ["plain", "plain"],
  ])("%s → %s", (text, expected) => {
    expect(interpolate(text, env)).toEqual({ text: expected, issues: [] });
  });

  it.each([
    ["${UNSET:-${ALSO_UNSET}}", "env", "environment variable ALSO_UNSET is not set"],
    ["${A:-${B}", "syntax", '"${A:-${B}" is not a valid variable'],
    ["${1A}", "syntax", '"${1A}" is not a valid variable'],
    ["${A", "syntax", '"${A" is not a valid variable'],
  ])("%s is an issue", (text, kind, message) => {
    const result = interpolate(text, env);
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]?.kind).toBe(kind);
    expect(result.issues[0]?.message).toContain(message);
  });
});
