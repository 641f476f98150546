/**
 * A message registry maps routing keys to zod schemas. It types `publish`
 * (only known routing keys, each with its own payload type) and validates
 * every payload at run time before anything is sent, so a bad message fails
 * in the publishing service with `WARREN_PUBLISH_INVALID_PAYLOAD` instead of
 * in a consumer's dead-letter queue.
 *
 * ```ts
 * const messages = defineMessages({
 *   "order.created": z.object({ orderId: z.string() }),
 * });
 * const warren = await connect({ url, publishExchange: "orders", messages });
 * await warren.publish("order.created", { orderId: "o-1" }); // type-checked
 * ```
 */
import type { z } from "zod";
import { ErrorCode, PublishError } from "../errors.ts";

/** Routing key → schema of its payload. */
export type MessageSchemas = Record<string, z.ZodType>;

/** A frozen set of message schemas, made by {@link defineMessages}. */
export interface MessageRegistry<M extends MessageSchemas = MessageSchemas> {
  /** The schemas by routing key. */
  readonly schemas: Readonly<M>;
  /** Routing keys of the registry. */
  readonly routingKeys: readonly (keyof M & string)[];
}

/** Routing keys accepted by a publisher typed with `M`. */
export type RoutingKeyOf<M extends MessageSchemas> = keyof M & string;

/** Payload type accepted for `routingKey` (the schema's input type). */
export type PayloadOf<M extends MessageSchemas, K extends RoutingKeyOf<M>> = z.input<M[K]>;

/**
 * Declares the messages a service publishes. Pass the result to
 * `connect({ messages })` or `warren.publisher(messages)`; `publish` then
 * accepts only these routing keys, each with its schema's payload type, and
 * validates payloads before sending.
 */
export function defineMessages<const M extends MessageSchemas>(schemas: M): MessageRegistry<M> {
  for (const [routingKey, schema] of Object.entries(schemas)) {
    if (typeof (schema as { safeParse?: unknown } | undefined)?.safeParse !== "function") {
      throw new TypeError(
        `defineMessages: "${routingKey}" is not a zod schema; give each routing key a schema such as z.object({ ... })`,
      );
    }
  }
  const frozen = Object.freeze({ ...schemas });
  return Object.freeze({
    schemas: frozen,
    routingKeys: Object.freeze(Object.keys(frozen)) as readonly (keyof M & string)[],
  });
}

/**
 * Validates `payload` against the registry's schema for `routingKey`.
 * Without a registry every payload passes. Throws
 * `WARREN_PUBLISH_INVALID_PAYLOAD` when the routing key is unknown to the
 * registry or the payload fails its schema. The payload is sent as given:
 * validation never transforms it.
 */
export function validatePayload(
  registry: MessageRegistry | undefined,
  routingKey: string,
  payload: unknown,
): void {
  if (registry === undefined) return;
  const schema = Object.hasOwn(registry.schemas, routingKey)
    ? registry.schemas[routingKey]
    : undefined;
  if (schema === undefined) {
    throw new PublishError(
      ErrorCode.WARREN_PUBLISH_INVALID_PAYLOAD,
      `publish: routing key "${routingKey}" is not in the message registry (known: ${registry.routingKeys.join(", ") || "none"}). Add it to defineMessages() or fix the routing key.`,
    );
  }
  const result = schema.safeParse(payload);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map(
        (issue) =>
          `${issue.path.length > 0 ? issue.path.join(".") : "(payload)"}: ${issue.message}`,
      )
      .join("; ");
    throw new PublishError(
      ErrorCode.WARREN_PUBLISH_INVALID_PAYLOAD,
      `publish: payload of "${routingKey}" fails its schema: ${issues}. Fix the payload or its schema in defineMessages().`,
      { cause: result.error },
    );
  }
}
