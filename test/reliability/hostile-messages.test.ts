/**
 * Scenario 12: hostile messages from a client that is not warren (plain
 * amqplib) into a warren consumer. Every message is either handled or
 * dead-lettered with the right `warren-reason`; the consumer never crashes
 * or loops; no prototype is polluted; and nothing is lost: every published
 * id ends up acked by the handler or in `Q.dlq`, and every queue is empty at
 * the end. Prints its figures for docs/hostile-inputs.md.
 */
import type { GetMessage } from "amqplib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  consumedCount,
  createHarness,
  type Harness,
  waitFor,
} from "../integration/consumer/harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

const MAX_BYTES = 256 * 1024;

interface Hostile {
  id: string;
  body: Buffer;
  headers?: Record<string, unknown>;
  /** `handled` (the handler ran and acked it) or the expected `warren-reason`. */
  expect: "handled" | "undecodable" | "invalid-payload" | "too-large";
  /** The attempt the handler must see when it runs. */
  attempt?: number;
}

function manyHeaders(count: number): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) headers[`h${i}`] = i;
  return headers;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const deepArray = (depth: number) => Buffer.from(`${"[".repeat(depth)}${"]".repeat(depth)}`);

const hostile: Hostile[] = [
  { id: "not-json", body: Buffer.from("<xml>not json</xml>"), expect: "undecodable" },
  { id: "empty-body", body: Buffer.alloc(0), expect: "undecodable" },
  {
    id: "invalid-utf8",
    body: Buffer.concat([
      Buffer.from('{"name":"caf'),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('"}'),
    ]),
    expect: "undecodable",
  },
  {
    id: "proto-payload",
    body: Buffer.from('{"__proto__":{"polluted":"yes"}}'),
    expect: "invalid-payload",
  },
  {
    id: "proto-escaped",
    body: Buffer.from('{"\\u005f_proto__":{"polluted":"yes"}}'),
    expect: "invalid-payload",
  },
  {
    id: "constructor-payload",
    body: Buffer.from('{"a":{"constructor":{"prototype":{"polluted":"yes"}}}}'),
    expect: "invalid-payload",
  },
  { id: "nested-100000", body: deepArray(100_000), expect: "handled" },
  { id: "over-max-bytes", body: json({ blob: "x".repeat(MAX_BYTES) }), expect: "too-large" },
  { id: "thousands-of-headers", body: json({}), headers: manyHeaders(3_000), expect: "handled" },
  ...(
    [
      ["attempt-negative", -1],
      ["attempt-zero", 0],
      ["attempt-huge", 2 ** 62],
      ["attempt-beyond-int64", 1e300],
      ["attempt-nan-string", "NaN"],
      ["attempt-object", { nested: 2 }],
      ["attempt-array", [7]],
    ] as const
  ).map(
    ([id, value]): Hostile => ({
      id,
      body: json({ id }),
      headers: { "warren-attempt": value },
      expect: "handled",
      attempt: 1,
    }),
  ),
  ...(
    [
      ["x-death-strings", ["garbage", "more"]],
      ["x-death-bad-count", [{ count: "NaN", reason: "expired", queue: "work" }]],
      ["x-death-table", { queue: "work", reason: "expired" }],
      ["x-death-text", "died"],
    ] as const
  ).map(
    ([id, value]): Hostile => ({
      id,
      body: json({ id, failOnce: true }),
      headers: { "x-death": value },
      expect: "handled",
      attempt: 2,
    }),
  ),
];

describe("scenario 12: hostile messages from a non-warren client", () => {
  it("handles or dead-letters each with the right reason: no crash, no pollution, nothing lost", async () => {
    const handled = new Map<string, number>();
    const started = performance.now();
    await h.consume(
      "work",
      (message, context) => {
        const id = context.messageId ?? "?";
        if (
          (message as { failOnce?: boolean } | null)?.failOnce === true &&
          context.attempt === 1
        ) {
          throw new Error("fails once, to send the message through a retry tier");
        }
        handled.set(id, context.attempt);
      },
      { maxBytes: MAX_BYTES, requeueDelayMs: 50 },
    );
    for (const m of hostile) {
      await h.publish("events", "job.created", m.body, {
        messageId: m.id,
        ...(m.headers === undefined ? {} : { headers: m.headers }),
      });
    }
    const expectedDead = hostile.filter((m) => m.expect !== "handled");
    const expectedHandled = hostile.filter((m) => m.expect === "handled");

    const dead: GetMessage[] = await h.collect("work.dlq", expectedDead.length, 60_000);
    await waitFor(() => handled.size === expectedHandled.length, 60_000, "every handled message");
    const elapsedMs = Math.round(performance.now() - started);

    // Every dead letter has the reason its input deserves.
    const reasons = Object.fromEntries(
      dead.map((d) => [d.properties.messageId, d.properties.headers?.["warren-reason"]]),
    );
    expect(reasons).toEqual(Object.fromEntries(expectedDead.map((m) => [m.id, m.expect])));
    // Dead letters keep the bytes they came with.
    for (const d of dead) {
      const original = hostile.find((m) => m.id === d.properties.messageId);
      expect(d.content.equals(original?.body ?? Buffer.alloc(1)), original?.id).toBe(true);
    }
    // Handled ones ran on the attempt their (forged) headers deserve.
    for (const m of expectedHandled) {
      expect(handled.get(m.id), m.id).toBe(m.attempt ?? 1);
    }
    // Nothing lost, nothing twice.
    expect([...handled.keys(), ...Object.keys(reasons)].sort()).toEqual(
      hostile.map((m) => m.id).sort(),
    );
    expect(await consumedCount(h, "requeued")).toBe(0);
    expect(await consumedCount(h, "rejected")).toBe(0);
    // No prototype pollution anywhere in this process.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    // All queues empty at the end.
    for (const queue of ["work", "work.dlq", "work.retry.200ms", "work.retry.500ms"]) {
      expect(await h.depth(queue), queue).toBe(0);
    }
    console.log(
      `scenario 12: ${hostile.length} hostile messages: ${expectedHandled.length} handled, ${dead.length} dead-lettered (${Object.entries(
        dead.reduce<Record<string, number>>((acc, d) => {
          const r = String(d.properties.headers?.["warren-reason"]);
          acc[r] = (acc[r] ?? 0) + 1;
          return acc;
        }, {}),
      )
        .map(([r, n]) => `${r} ${n}`)
        .join(", ")}), 0 lost, 0 requeued, all settled in ${elapsedMs} ms`,
    );
  }, 180_000);
});
