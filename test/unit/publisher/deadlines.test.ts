import { describe, expect, it } from "vitest";
import { Deadlines, type Expiring } from "../../../src/publisher/deadlines.ts";

interface Entry extends Expiring {
  id: number;
  state: "open" | "done";
}

function entry(id: number): Entry {
  return { id, state: "open", deadline: 0, timer: undefined };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Deadlines", () => {
  it("expires unsettled entries after their timeout, on one shared timer, in order", async () => {
    const expired: number[] = [];
    const deadlines = new Deadlines<Entry>(50, (e) => {
      expired.push(e.id);
      e.state = "done";
      deadlines.settled(e);
    });
    const entries = [1, 2, 3].map(entry);
    for (const e of entries) deadlines.track(e, 50, performance.now());
    // Settled in time: never expires.
    (entries[1] as Entry).state = "done";
    deadlines.settled(entries[1] as Entry);
    await sleep(20);
    expect(expired).toEqual([]);
    await sleep(150);
    expect(expired).toEqual([1, 3]);
  });

  it("gives an entry with its own timeout its own timer, which settling stops", async () => {
    const expired: number[] = [];
    const deadlines = new Deadlines<Entry>(10_000, (e) => {
      expired.push(e.id);
      e.state = "done";
    });
    const short = entry(1);
    const settledEarly = entry(2);
    deadlines.track(short, 30, performance.now());
    deadlines.track(settledEarly, 30, performance.now());
    expect(short.timer).toBeDefined();
    settledEarly.state = "done";
    deadlines.settled(settledEarly);
    expect(settledEarly.timer).toBeUndefined();
    await sleep(120);
    expect(expired).toEqual([1]);
  });

  it("keeps no timer once every entry has settled, so an idle publisher holds no event-loop handle", () => {
    const deadlines = new Deadlines<Entry>(60_000, () => {
      throw new Error("must not expire");
    });
    const entries = Array.from({ length: 3_000 }, (_, i) => entry(i));
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    for (const e of entries) deadlines.track(e, 60_000, performance.now());
    expect(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length).toBe(before + 1);
    for (const e of entries) {
      e.state = "done";
      deadlines.settled(e);
    }
    expect(process.getActiveResourcesInfo().filter((r) => r === "Timeout").length).toBe(before);
  });

  it("expires an entry tracked after the FIFO emptied on the idle timer, not before its own deadline", async () => {
    const expired: number[] = [];
    const deadlines = new Deadlines<Entry>(80, (e) => {
      expired.push(e.id);
      e.state = "done";
      deadlines.settled(e);
    });
    const first = entry(1);
    deadlines.track(first, 80, performance.now());
    first.state = "done";
    deadlines.settled(first);
    await sleep(40);
    const second = entry(2);
    deadlines.track(second, 80, performance.now());
    // The idle timer, armed for the first entry, fires around 80 ms: too early for the second.
    await sleep(60);
    expect(expired).toEqual([]);
    await sleep(150);
    expect(expired).toEqual([2]);
  });
});
