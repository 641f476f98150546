// Type-level tests: nothing here runs. vitest's typecheck mode (the `unit`
// project in vitest.config.ts) compiles this file with tsc, and a failing
// `expectTypeOf` or an unused `@ts-expect-error` fails `vitest run`; the
// `npm run typecheck` step compiles it too.
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import type { PublishFunction } from "../../../src/client.ts";
import { defineMessages } from "../../../src/publisher/messages.ts";

const messages = defineMessages({
  "order.created": z.object({ orderId: z.string() }),
  "order.cancelled": z.object({ orderId: z.string(), reason: z.string() }),
});
type Messages = typeof messages extends { schemas: infer M } ? M : never;

describe("publish typed by a message registry", () => {
  it("accepts known routing keys with their payload types only", () => {
    const publish = (async () => {}) as PublishFunction<Messages>;
    expectTypeOf(publish).toBeCallableWith("order.created", { orderId: "o-1" });
    expectTypeOf(publish).toBeCallableWith("order.cancelled", { orderId: "o-1", reason: "r" });
    // @ts-expect-error unknown routing key
    void publish("order.shipped", { orderId: "o-1" });
    // @ts-expect-error wrong payload type for the routing key
    void publish("order.created", { orderId: 1 });
    // @ts-expect-error missing field of order.cancelled
    void publish("order.cancelled", { orderId: "o-1" });
  });

  it("accepts any routing key and payload without a registry", () => {
    const publish = (async () => {}) as PublishFunction;
    expectTypeOf(publish).toBeCallableWith("anything", { any: "thing" });
  });
});

// Type-level only (never called): connect({ messages }) types the client's publish.
async function typedClientCompiles(): Promise<void> {
  const { connect } = await import("../../../src/client.ts");
  const warren = await connect({ url: "amqp://localhost", messages });
  await warren.publish("order.created", { orderId: "o-1" });
  // @ts-expect-error unknown routing key
  await warren.publish("order.shipped", { orderId: "o-1" });
}

describe("connect({ messages })", () => {
  it("types the client's publish (checked by tsc)", () => {
    expectTypeOf(typedClientCompiles).returns.resolves.toBeVoid();
  });
});
