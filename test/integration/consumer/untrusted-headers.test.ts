import { afterEach, describe, expect, it } from "vitest";
import { consumedCount, createHarness, type Harness, waitFor, workTopology } from "./harness.ts";

// Header values come from whoever published the message. Each test below
// forges headers from a plain amqplib client and checks that the runtime
// reads them as untrusted input: the message is handled, retried and acked,
// never stuck in a requeue loop, and its copies carry nothing the broker
// would choke on.
const Q = "work";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Fails every message on attempt 1 and records the attempts it sees. */
async function failOnce(harness: Harness): Promise<Map<string, number[]>> {
  const seen = new Map<string, number[]>();
  await harness.consume(
    Q,
    (_message, context) => {
      const id = context.messageId ?? "?";
      seen.set(id, [...(seen.get(id) ?? []), context.attempt]);
      if (context.attempt === 1) throw new Error("first attempt fails");
    },
    { requeueDelayMs: 50 },
  );
  return seen;
}

describe("untrusted header values", () => {
  it("takes a forged warren-attempt (negative, zero, huge, NaN, a fraction, a string, a table) as attempt 1 and retries it normally", async () => {
    h = await createHarness();
    const harness = h;
    const seen = await failOnce(harness);
    const forged: Record<string, unknown> = {
      negative: -5,
      zero: 0,
      "beyond-safe": 2 ** 62,
      "beyond-int64": 1e300,
      // A NaN or infinite double never reaches a consumer: RabbitMQ closes
      // the publishing connection (541 INTERNAL_ERROR) when it decodes one.
      fraction: 2.5,
      "nan-string": "NaN",
      "huge-string": "99999999999999999999",
      table: { attempt: 3 },
      list: [2],
      bytes: Buffer.from("3"),
    };
    for (const [id, value] of Object.entries(forged)) {
      await harness.publish(
        "events",
        "job.created",
        { id },
        {
          messageId: id,
          headers: { "warren-attempt": value },
        },
      );
    }
    const ids = Object.keys(forged);
    await waitFor(
      async () => (await consumedCount(harness, "acked")) === ids.length,
      20_000,
      `${ids.length} acks`,
    );
    for (const id of ids) expect(seen.get(id), id).toEqual([1, 2]);
    expect(await consumedCount(harness, "requeued")).toBe(0);
    expect(await consumedCount(harness, "retried")).toBe(ids.length);
    expect(await harness.depth("work.dlq")).toBe(0);
  });

  it("dead-letters a message whose forged attempt is past maxAttempts after one run, with an encodable attempt count", async () => {
    h = await createHarness();
    const harness = h;
    await harness.consume(Q, () => {
      throw new Error("fails");
    });
    await harness.publish(
      "events",
      "job.created",
      {},
      {
        messageId: "late",
        headers: { "warren-attempt": Number.MAX_SAFE_INTEGER - 1 },
      },
    );
    const [dead] = await harness.collect("work.dlq", 1);
    expect(dead?.properties.headers?.["warren-reason"]).toBe("retries-exhausted");
    expect(dead?.properties.headers?.["warren-attempts"]).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(await consumedCount(harness, "requeued")).toBe(0);
  });

  it("does not read a header hidden behind a __proto__ table", async () => {
    h = await createHarness();
    const harness = h;
    const seen = await failOnce(harness);
    // amqplib decodes the table `__proto__` into the prototype of the headers object.
    const headers = JSON.parse('{"__proto__": {"warren-attempt": 3}}') as Record<string, unknown>;
    await harness.publish("events", "job.created", {}, { messageId: "proto", headers });
    await waitFor(async () => (await consumedCount(harness, "acked")) === 1, 10_000, "ack");
    expect(seen.get("proto")).toEqual([1, 2]);
  });
});

describe("broker-owned headers on copies", () => {
  it("retries a message with a malformed x-death through a tier and back (RabbitMQ 3.10.8 crashed dead-lettering it)", async () => {
    // Classic queues: a crash of a classic queue process stays inside it,
    // while on a quorum queue it would take down the node's dead-letter
    // supervisor for every other test on this broker.
    h = await createHarness((vhost) => {
      const topology = workTopology(vhost) as { queues: Record<string, Record<string, unknown>> };
      const work = topology.queues.work ?? {};
      delete work.deliveryLimit;
      topology.queues.work = { ...work, type: "classic" };
      return topology;
    });
    const harness = h;
    const seen = await failOnce(harness);
    const malformed: Record<string, unknown> = {
      "list-of-strings": ["garbage"],
      "count-is-text": [{ count: "many", reason: "expired", queue: "work.retry.200ms" }],
      "a-string": "x-death as text",
      "a-table": { queue: "work" },
    };
    for (const [id, xDeath] of Object.entries(malformed)) {
      await harness.publish(
        "events",
        "job.created",
        { id },
        {
          messageId: id,
          headers: { "x-death": xDeath, "x-delivery-count": "lots" },
        },
      );
    }
    const ids = Object.keys(malformed);
    await waitFor(
      async () => (await consumedCount(harness, "acked")) === ids.length,
      20_000,
      `${ids.length} acks after one trip through the 200 ms tier`,
    );
    for (const id of ids) expect(seen.get(id), id).toEqual([1, 2]);
  });

  it("keeps a well-formed x-death on the copy, typed as the broker writes it", async () => {
    h = await createHarness();
    const harness = h;
    await harness.consume(Q, (_message, context) => {
      if (context.attempt === 1) throw new Error("first attempt fails");
      throw Object.assign(new Error("second fails for good"), { name: "NonRetryableError" });
    });
    const earlier = {
      count: 2,
      reason: "expired",
      queue: "elsewhere",
      exchange: "",
      "routing-keys": ["elsewhere"],
      time: { "!": "timestamp", value: 1_700_000_000 },
    };
    await harness.publish(
      "events",
      "job.created",
      {},
      {
        messageId: "history",
        headers: { "x-death": [earlier] },
      },
    );
    const [dead] = await harness.collect("work.dlq", 1, 15_000);
    const deaths = dead?.properties.headers?.["x-death"] as unknown as Record<string, unknown>[];
    // The tier's expiry was added by the broker, the earlier entry kept.
    expect(deaths.map((d) => [d.queue, d.reason, d.count])).toEqual([
      ["work.retry.200ms", "expired", 1],
      ["elsewhere", "expired", 2],
    ]);
  });

  it("never copies CC or BCC, which would route a retry copy into other queues", async () => {
    h = await createHarness();
    const harness = h;
    const seen = await failOnce(harness);
    await harness.publish(
      "events",
      "job.created",
      {},
      {
        messageId: "cc",
        CC: ["audit"],
        headers: { BCC: ["audit"] },
      },
    );
    await waitFor(async () => (await consumedCount(harness, "acked")) === 1, 10_000, "ack");
    expect(seen.get("cc")).toEqual([1, 2]);
    // `audit` is bound to the exchange with "#": exactly the one original.
    expect(await harness.depth("audit")).toBe(1);
  });
});
