import { describe, expect, it } from "vitest";
import { parseTopology } from "../../../src/topology/load.ts";
import { MAX_FLOW_NESTING, tooDeepAt } from "../../../src/topology/nesting.ts";

const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

describe("tooDeepAt", () => {
  it("finds the line where flow nesting passes the limit", () => {
    expect(tooDeepAt(nested(MAX_FLOW_NESTING))).toBeUndefined();
    expect(tooDeepAt(nested(MAX_FLOW_NESTING + 1))).toBe(1);
    expect(tooDeepAt(`a: 1\nb:\n  c: ${"{x: ".repeat(5)}${"[".repeat(10)}`, 12)).toBe(3);
  });

  it("counts a closed collection out again", () => {
    expect(tooDeepAt(`${nested(60)}\n${nested(60)}`)).toBeUndefined();
  });

  it("does not count brackets in quoted strings or comments", () => {
    const brackets = "[".repeat(500);
    expect(tooDeepAt(`{"a": "${brackets}"}`)).toBeUndefined();
    expect(tooDeepAt(`{"a": "\\"${brackets}"}`)).toBeUndefined(); // an escaped quote does not end it
    expect(tooDeepAt(`a: '${brackets} it''s ${brackets}'`)).toBeUndefined();
    expect(tooDeepAt(`a: 1 # ${brackets}\nb: 2`)).toBeUndefined();
    // An apostrophe inside a word opens no string: the brackets after it count.
    expect(tooDeepAt(`a: don't ${brackets}`)).toBe(1);
  });

  it("makes parseTopology refuse a deep file at once, with the line", () => {
    const started = performance.now();
    expect(() =>
      parseTopology(`queues:\n  a: ${nested(100_000)}\n`, { fileName: "deep.yaml", env: {} }),
    ).toThrow(/deep\.yaml:2: nested too deeply to read/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
