/**
 * Delayed publish (docs/publishing.md#delayed-publish): `publish(rk, msg,
 * { delay: "10m" })` sends the message to the wait exchange `X.delay.10m` of
 * its exchange `X` instead of to `X`. Only delays the topology declares on
 * `X` (`delays: [10m]`) exist; anything else is refused here, before
 * anything is sent, with the declared ones listed.
 */
import { ErrorCode, PublishError } from "../errors.ts";
import {
  describeValue,
  durationProblem,
  formatDelay,
  parseDuration,
} from "../topology/duration.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { routesToQueue } from "../topology/route.ts";
import type { Envelope } from "./envelope.ts";
import { describeTarget } from "./publish-errors.ts";

/**
 * The envelope of a delayed publish: the same message, addressed to the
 * wait exchange of `delay`. Throws a {@link PublishError} when the delay is
 * malformed (`WARREN_PUBLISH_INVALID_OPTIONS`), not declared on the
 * exchange or the client has no topology (`WARREN_PUBLISH_DELAY_UNDECLARED`),
 * or, for a mandatory message, when no queue of the topology would receive
 * it once its wait is over (`WARREN_PUBLISH_UNROUTABLE`): the broker
 * confirms a delayed message as soon as the wait queue holds it, so this
 * check is the only one that can still tell the caller.
 */
export function delayEnvelope(
  envelope: Envelope,
  delay: unknown,
  topology: CompiledTopology | undefined,
): Envelope {
  const problem = durationProblem(delay);
  if (problem !== undefined) {
    throw new PublishError(
      ErrorCode.WARREN_PUBLISH_INVALID_OPTIONS,
      `${describeTarget(envelope)}: delay ${describeValue(delay)} is not a duration (${problem}). The message was not sent. Use one of the exchange's declared delays, e.g. "10m".`,
    );
  }
  const delayMs = parseDuration(delay as string | number);
  if (topology === undefined) {
    throw new PublishError(
      ErrorCode.WARREN_PUBLISH_DELAY_UNDECLARED,
      `${describeTarget(envelope)}: a delay needs the topology, which declares the delays each exchange allows; this client has none. The message was not sent. Pass connect({ topology: await loadTopology(file) }).`,
    );
  }
  const tiers = topology.delays[envelope.exchange] ?? [];
  const tier = tiers.find((t) => t.delayMs === delayMs);
  if (tier === undefined) {
    const declared =
      tiers.length === 0
        ? "it declares no delays"
        : `declared: ${tiers.map((t) => formatDelay(t.delayMs)).join(", ")}`;
    throw new PublishError(
      ErrorCode.WARREN_PUBLISH_DELAY_UNDECLARED,
      `${describeTarget(envelope)}: delay ${formatDelay(delayMs)} is not declared on this exchange in the topology (${declared}). The message was not sent. Use a declared delay, or add ${formatDelay(delayMs)} to the exchange's delays and run warren topology apply.`,
    );
  }
  if (envelope.mandatory !== false) {
    const headers = envelope.properties.headers ?? {};
    if (routesToQueue(topology, envelope.exchange, envelope.routingKey, headers) === false) {
      throw new PublishError(
        ErrorCode.WARREN_PUBLISH_UNROUTABLE,
        `${describeTarget(envelope)} with delay ${formatDelay(delayMs)}: no queue of the topology is bound for this routing key, so the message would wait ${formatDelay(delayMs)} and then have nowhere to go. The message was not sent. Fix the routing key or add the binding (warren topology apply), or publish with mandatory: false where dropping it is intended.`,
      );
    }
  }
  return { ...envelope, exchange: tier.name };
}
