/**
 * The checks every publish passes before anything leaves the process: the
 * message registry (known routing key, payload matching its schema), JSON
 * serialisation, and `maxBytes`. Shared by the confirmed publisher and the
 * transactional outbox, so a message the outbox accepts is exactly one that
 * `publish` would have accepted.
 */
import { PublishError } from "../errors.ts";
import type { Envelope } from "./envelope.ts";
import { type MessageRegistry, validatePayload } from "./messages.ts";
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
