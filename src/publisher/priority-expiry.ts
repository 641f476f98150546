/**
 * The `priority` and `expiresIn` options of `publish`
 * (docs/publishing.md#priority-and-expiry): checked before anything is sent,
 * then set as the AMQP `priority` and `expiration` properties.
 */
import { ErrorCode, PublishError } from "../errors.ts";
import { describeValue, durationProblem, parseDuration } from "../topology/duration.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { queuesReached } from "../topology/route.ts";
import type { Envelope } from "./envelope.ts";
import { describeTarget } from "./publish-errors.ts";

/**
 * Sets `priority` (an integer 0-255, and when the client has the topology
 * not above the `priority` of any queue the message reaches) and
 * `expiresIn` (a duration, sent as `expiration` in ms) on `envelope`.
 * Throws `WARREN_PUBLISH_INVALID_OPTIONS` otherwise. `finalExchange` is
 * the exchange that routes the message to its queues (for a delayed
 * message, not the wait exchange).
 */
export function applyPriorityAndExpiry(
  envelope: Envelope,
  options: { priority?: unknown; expiresIn?: unknown; delay?: unknown },
  topology: CompiledTopology | undefined,
  finalExchange: string,
): void {
  const refuse = (detail: string) =>
    new PublishError(
      ErrorCode.WARREN_PUBLISH_INVALID_OPTIONS,
      `${describeTarget(envelope)}: ${detail}. The message was not sent.`,
    );
  const { priority, expiresIn } = options;
  if (priority !== undefined) {
    if (
      typeof priority !== "number" ||
      !Number.isInteger(priority) ||
      priority < 0 ||
      priority > 255
    ) {
      throw refuse(`priority must be an integer from 0 to 255, got ${describeValue(priority)}`);
    }
    const headers = envelope.properties.headers ?? {};
    const reached =
      topology === undefined
        ? undefined
        : queuesReached(topology, finalExchange, envelope.routingKey, headers);
    for (const name of reached ?? []) {
      const queue = topology?.queues.find((q) => q.name === name);
      const max = queue?.arguments["x-max-priority"];
      if (typeof max !== "number") {
        throw refuse(
          `priority ${priority} is set but queue "${name}" has no priority in the topology, so the broker would ignore it; add priority to the queue (classic only) or drop the option`,
        );
      }
      if (priority > max) {
        throw refuse(
          `priority ${priority} is above the priority of queue "${name}" (${max}); the broker would treat it as ${max}. Use 0-${max}, or raise the queue's priority`,
        );
      }
    }
    envelope.properties.priority = priority;
  }
  if (expiresIn !== undefined) {
    if (options.delay !== undefined) {
      // The broker would expire it in the wait queue, which dead-letters it
      // into the exchange early, and dead-lettering clears `expiration`.
      throw refuse(
        "expiresIn cannot be combined with delay: the expiration would end the wait early and be cleared when the wait ends; drop one of them",
      );
    }
    const problem = durationProblem(expiresIn);
    if (problem !== undefined) {
      throw refuse(
        `expiresIn ${describeValue(expiresIn)} is not a duration (${problem}); use e.g. "5m"`,
      );
    }
    const ms = parseDuration(expiresIn as string | number);
    if (ms === 0) throw refuse("expiresIn must be at least 1ms");
    envelope.properties.expiration = String(ms);
  }
}
