import type { Message } from "amqplib";
import { describe, expect, it } from "vitest";
import type { Pending } from "../../../src/publisher/backlog.ts";
import { InFlight, PUBLISH_SEQ_HEADER } from "../../../src/publisher/in-flight.ts";

function written(seq: number, messageId?: string): Pending {
  return {
    envelope: {
      exchange: "",
      routingKey: "q",
      content: Buffer.from("{}"),
      properties: messageId === undefined ? {} : { messageId },
    },
    resolve: () => {},
    reject: () => {},
    state: "written",
    seq,
    startedAt: 0,
    timer: undefined as unknown as NodeJS.Timeout,
    blockedTimer: undefined,
    returned: undefined,
  };
}
const returned = (properties: Record<string, unknown>) => ({ properties }) as unknown as Message;

describe("InFlight", () => {
  it("settles one tag, or every tag up to it with multiple", () => {
    const inFlight = new InFlight();
    const entries = [1, 2, 3, 4].map((seq) => written(seq));
    for (const e of entries) inFlight.add(e, undefined);
    expect(inFlight.confirm(2, false)).toEqual([entries[1]]);
    expect(inFlight.confirm(3, true)).toEqual([entries[0], entries[2]]);
    expect(inFlight.size).toBe(1);
    expect(inFlight.confirm(3, true)).toEqual([]);
    expect(inFlight.confirm(99, false)).toEqual([]);
    expect(inFlight.confirm(4, true)).toEqual([entries[3]]);
    expect(inFlight.size).toBe(0);
  });

  it("matches a return by messageId, or by the publish-seq header when there is none", () => {
    const inFlight = new InFlight();
    const withId = written(1, "m-1");
    const withoutId = written(2);
    inFlight.add(withId, "m-1");
    inFlight.add(withoutId, undefined);
    expect(inFlight.hasId("m-1")).toBe(true);
    expect(inFlight.forReturn(returned({ messageId: "m-1" }))).toBe(withId);
    expect(inFlight.forReturn(returned({ headers: { [PUBLISH_SEQ_HEADER]: 2 } }))).toBe(withoutId);
    expect(inFlight.forReturn(returned({ messageId: "other" }))).toBeUndefined();
    expect(
      inFlight.forReturn(returned({ headers: { [PUBLISH_SEQ_HEADER]: "2" } })),
    ).toBeUndefined();
  });

  it("forgets the id with its entry, and takeAll empties it oldest first", () => {
    const inFlight = new InFlight();
    const a = written(1, "a");
    const b = written(2, "b");
    inFlight.add(a, "a");
    inFlight.add(b, "b");
    inFlight.delete(a);
    expect(inFlight.hasId("a")).toBe(false);
    expect(inFlight.size).toBe(1);
    const c = written(3, "c");
    inFlight.add(c, "c");
    expect(inFlight.takeAll()).toEqual([b, c]);
    expect(inFlight.size).toBe(0);
    expect(inFlight.hasId("b")).toBe(false);
  });
});
