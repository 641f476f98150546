/**
 * Publishes the retry or dead-letter copy of a delivery, and says what to do
 * with the original when that fails. A failure of the publisher (nack,
 * timeout, connection lost, returned) can be cured by trying again later:
 * the original is requeued. A copy amqplib cannot encode (the original's
 * headers plus warren's overflow its 64 KiB property buffer, or a value has
 * no AMQP type) never can: a reduced copy (retry.ts) is tried instead, and
 * when that cannot be encoded either, the original must leave its queue some
 * other way (settle-delivery.ts rejects it).
 */
import { ErrorCode, PublishError } from "../errors.ts";
import type { Envelope } from "../publisher/envelope.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import { reducedEnvelope } from "./retry.ts";

/** A failure that no retry of the same copy can cure. */
function isPermanent(error: unknown): boolean {
  return error instanceof PublishError && error.code === ErrorCode.WARREN_PUBLISH_INVALID_PAYLOAD;
}

/**
 * `sent`: the copy (full or reduced) is confirmed. `transient`: the
 * publisher failed; requeue the original. `impossible`: not even the reduced
 * copy can be published.
 */
export async function sendCopy<T>(
  rt: DeliveryRuntime<T>,
  envelope: Envelope,
  log: Record<string, unknown>,
): Promise<"sent" | "transient" | "impossible"> {
  let failure: unknown;
  for (const copy of [envelope, reducedEnvelope(envelope)]) {
    try {
      await rt.publisher.send(copy);
      if (copy !== envelope) {
        rt.logger.warn(
          { ...log, err: failure, target: copy.routingKey },
          "the full copy could not be encoded; published a reduced copy without the original's application headers",
        );
      }
      return "sent";
    } catch (error) {
      if (!isPermanent(error)) {
        rt.logger.error(
          { ...log, err: error, target: copy.routingKey },
          "could not publish the copy; the original is requeued",
        );
        return "transient";
      }
      failure = error;
    }
  }
  rt.logger.error(
    { ...log, err: failure, target: envelope.routingKey },
    "no copy of the message can be published; rejecting it so the broker dead-letters it",
  );
  return "impossible";
}
