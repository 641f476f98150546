import { describe, expect, it } from "vitest";
import { Backlog, type Pending } from "../../../src/publisher/backlog.ts";

function entry(name: string): Pending {
  return {
    envelope: { exchange: "", routingKey: name, content: Buffer.from(name), properties: {} },
    resolve: () => {},
    reject: () => {},
    state: "queued",
    seq: 0,
    startedAt: 0,
    timer: undefined as unknown as NodeJS.Timeout,
    blockedTimer: undefined,
    returned: undefined,
  };
}
const names = (entries: Iterable<Pending>) => [...entries].map((e) => e.envelope.routingKey);

describe("Backlog", () => {
  it("hands entries out in arrival order", () => {
    const backlog = new Backlog();
    for (const n of ["a", "b", "c"]) backlog.push(entry(n));
    expect(backlog.size).toBe(3);
    expect(backlog.peek()?.envelope.routingKey).toBe("a");
    expect(backlog.size).toBe(3);
    expect(names([backlog.shift()!, backlog.shift()!, backlog.shift()!])).toEqual(["a", "b", "c"]);
    expect(backlog.shift()).toBeUndefined();
    expect(backlog.size).toBe(0);
  });

  it("skips an entry that settled in place and does not count it", () => {
    const backlog = new Backlog();
    const [a, b, c] = [entry("a"), entry("b"), entry("c")];
    for (const e of [a, b, c]) backlog.push(e);
    b.state = "done"; // timed out while queued
    backlog.forget();
    expect(backlog.size).toBe(2);
    expect(names(backlog.entries())).toEqual(["a", "c"]);
    a.state = "done";
    backlog.forget();
    expect(backlog.peek()).toBe(c);
    expect(backlog.shift()).toBe(c);
    expect(backlog.size).toBe(0);
  });

  it("puts a write that did not happen back at the head", () => {
    const backlog = new Backlog();
    for (const n of ["a", "b"]) backlog.push(entry(n));
    const a = backlog.shift()!;
    a.state = "writing";
    a.state = "queued";
    backlog.unshift(a);
    expect(names(backlog.entries())).toEqual(["a", "b"]);
    const fresh = new Backlog();
    fresh.unshift(entry("x"));
    fresh.push(entry("y"));
    expect(names(fresh.entries())).toEqual(["x", "y"]);
  });

  it("keeps order and size through 20,000 entries taken one by one (past the compaction threshold)", () => {
    const backlog = new Backlog();
    for (let i = 0; i < 20_000; i++) backlog.push(entry(String(i)));
    const outOfOrder: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      if (backlog.shift()?.envelope.routingKey !== String(i)) outOfOrder.push(i);
      if (i === 10_000) expect(backlog.size).toBe(9_999);
    }
    expect(outOfOrder).toEqual([]);
    expect(backlog.size).toBe(0);
    expect(backlog.peek()).toBeUndefined();
  });
});
