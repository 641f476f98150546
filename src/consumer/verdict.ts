/**
 * What the runtime decides for one delivery (the outcome table of
 * `startConsumer`): ack, retry copy, dead-letter copy or requeue. Deciding
 * runs the handler; doing is settle-delivery.ts.
 */
import type { ConsumeMessage } from "amqplib";
import { NonRetryableError } from "../errors.ts";
import { retryTierFor } from "../topology/compile.ts";
import type { RetryPolicy, RetryTier } from "../topology/model.ts";
import { messageLogFields } from "./context.ts";
import { decodeBody } from "./decode.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import type { DeadLetterReason } from "./retry.ts";
import { isRetryLater, retryLaterVerdict } from "./retry-later.ts";
import { runHandler } from "./run-handler.ts";

/** The runtime's decision for one delivery. */
export type Verdict =
  | { kind: "ack"; outcome: "acked" | "duplicate" }
  | {
      kind: "retry";
      tier: RetryTier;
      nextAttempt: number;
      error: unknown;
      /** Set on a retry-later that did not use up an attempt (`warren-uncounted-retries`). */
      uncountedRetries?: number | undefined;
    }
  | { kind: "dead-letter"; reason: DeadLetterReason; error: unknown }
  | { kind: "requeue"; why: string };

// Shared, never changed: a verdict is read, not written, after judge().
const ACKED: Verdict = Object.freeze({ kind: "ack", outcome: "acked" });
const DUPLICATE: Verdict = Object.freeze({ kind: "ack", outcome: "duplicate" });

/** How long the handler ran, observed once the delivery is settled. */
export interface HandlerTiming {
  seconds: number;
  result: "success" | "failure";
  /**
   * Set when the handler outlived its `timeoutMs`: settles when the handler
   * really does. Its lane takes no other message until then.
   */
  overrun: Promise<void> | undefined;
}

/**
 * A redelivered message whose idempotency key is still leased: the consumer
 * that held it most likely died with it (crash, OOM kill). It counts as a
 * failed attempt, so that a message that kills every consumer taking it
 * ends in `Q.dlq` after `maxAttempts`. Without this each in-progress copy
 * would start the broker's delivery count from zero again, and the crash
 * loop would never end.
 */
export class HolderLostError extends Error {
  constructor(key: string) {
    super(
      `message redelivered while its idempotency key "${key}" was still in progress: the consumer that held it stopped without settling it (crash or kill); counted as a failed attempt`,
    );
    this.name = "HolderLostError";
  }
}

function isNonRetryable(error: unknown): boolean {
  // The name check covers a second copy of warren in node_modules.
  return (
    error instanceof NonRetryableError ||
    (error instanceof Error && error.name === "NonRetryableError")
  );
}

/** Decodes the delivery, runs the handler and turns what happened into a verdict. */
export async function judge<T>(
  rt: DeliveryRuntime<T>,
  message: ConsumeMessage,
  attempt: number,
  timing: HandlerTiming,
): Promise<Verdict> {
  // The publish timestamp is in whole seconds (AMQP); a copy keeps it, so a
  // retried message's age includes its time in the tiers.
  const published = message.properties.timestamp as unknown;
  if (typeof published === "number" && published > 0) {
    rt.meters.age.observe(Math.max(0, Date.now() / 1000 - published));
  }
  const decoded = decodeBody(message.content, rt.options.maxBytes, rt.options.schema);
  if (!decoded.ok) return { kind: "dead-letter", reason: decoded.reason, error: decoded.error };

  let status: "completed" | "duplicate" | "in-progress";
  const started = performance.now();
  rt.meters.inFlight.inc();
  try {
    status = await runHandler(rt, decoded.value, message, attempt, timing);
  } catch (error) {
    timing.result = "failure";
    if (isRetryLater(error)) return retryLaterVerdict(rt, message, attempt, error);
    return failureVerdict(rt.policy, attempt, error);
  } finally {
    timing.seconds = (performance.now() - started) / 1000;
    // An overrunning handler still runs: counted until it settles.
    if (timing.overrun === undefined) rt.meters.inFlight.dec();
  }
  if (status === "completed") return ACKED;
  if (status === "duplicate") {
    rt.logger.debug(
      messageLogFields(message, attempt),
      "duplicate: already handled, acking without calling the handler",
    );
    return DUPLICATE;
  }
  // Another consumer holds the lease. On a redelivery the holder most likely
  // died with the message: a failed attempt. Otherwise come back after the
  // first tier's delay, on the same attempt (this one did not fail).
  if (message.fields.redelivered && rt.policy.tiers.length > 0) {
    timing.result = "failure";
    const error = new HolderLostError(String(message.properties.messageId ?? ""));
    return failureVerdict(rt.policy, attempt, error);
  }
  const tier = rt.policy.tiers[0];
  if (tier === undefined) return { kind: "requeue", why: "idempotency key in progress" };
  return { kind: "retry", tier, nextAttempt: attempt, error: undefined };
}

function failureVerdict(policy: RetryPolicy, attempt: number, error: unknown): Verdict {
  if (isNonRetryable(error)) return { kind: "dead-letter", reason: "non-retryable", error };
  const tier = retryTierFor(policy, attempt);
  if (tier === undefined) return { kind: "dead-letter", reason: "retries-exhausted", error };
  return { kind: "retry", tier, nextAttempt: attempt + 1, error };
}
