/**
 * The checks every publish passes before anything leaves the process: the
 * message registry (known routing key, payload matching its schema), JSON
 * serialisation, and `maxBytes`. Shared by the confirmed publisher and the
 * transactional outbox, so a message the outbox accepts is exactly one that
 * `publish` would have accepted.
 */
import { PublishError } from "../errors.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { delayEnvelope } from "./delay.ts";
import type { Envelope } from "./envelope.ts";
import { type MessageRegistry, validatePayload } from "./messages.ts";
import { applyPriorityAndExpiry } from "./priority-expiry.ts";
import { buildEnvelope, type PublishOptions } from "./publish.ts";
import { publishErrors } from "./publish-errors.ts";

/**
 * Validates `payload` and builds its envelope for `exchange`. Throws a
 * {@link PublishError}: `WARREN_PUBLISH_INVALID_PAYLOAD` (unknown routing
 * key, schema failure, not serialisable) or `WARREN_PUBLISH_TOO_LARGE`.
 */
export function prepareEnvelope(
  messages: MessageRegistry | undefined,
  exchange: string,
  routingKey: string,
  payload: unknown,
  options: PublishOptions,
  maxBytes: number,
): Envelope {
  let envelope: Envelope;
  try {
    validatePayload(messages, routingKey, payload);
    envelope = buildEnvelope(exchange, routingKey, payload, options);
  } catch (error) {
    throw error instanceof PublishError ? error : publishErrors.unserialisable(routingKey, error);
  }
  if (envelope.content.length > maxBytes) throw publishErrors.tooLarge(envelope, maxBytes);
  return envelope;
}

/**
 * Applies the options that depend on the topology to a prepared envelope:
 * `priority` and `expiresIn` (checked against the queues the message can
 * reach), then `delay` (addressed to the exchange's wait exchange). Shared by
 * the publisher and the outbox, so both refuse the same options the same
 * way. Throws a {@link PublishError}.
 */
export function scheduleEnvelope(
  envelope: Envelope,
  options: Pick<PublishOptions, "priority" | "expiresIn" | "delay">,
  topology: CompiledTopology | undefined,
): Envelope {
  applyPriorityAndExpiry(envelope, options, topology, envelope.exchange);
  return options.delay === undefined ? envelope : delayEnvelope(envelope, options.delay, topology);
}
