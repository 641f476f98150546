/**
 * Runs the user's handler for one decoded message: through the idempotency
 * guard when there is one, under the handler's `timeoutMs` deadline, with an
 * `AbortSignal` made only when the handler reads it or the deadline passes.
 */
import type { ConsumeMessage } from "amqplib";
import { createContext, messageLogFields } from "./context.ts";
import type { DeliveryRuntime } from "./handle-delivery.ts";
import { idempotencyKeyOf } from "./idempotency.ts";
import type { HandlerTiming } from "./verdict.ts";

/** A handler that ran past its `timeoutMs`. */
export class HandlerTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`handler did not finish within ${timeoutMs} ms`);
    this.name = "HandlerTimeoutError";
  }
}

/** Runs the handler with its deadline; throws what the handler threw. */
export async function runHandler<T>(
  rt: DeliveryRuntime<T>,
  value: T,
  message: ConsumeMessage,
  attempt: number,
  timing: HandlerTiming,
): Promise<"completed" | "duplicate" | "in-progress"> {
  // The controller is made only when a handler reads its signal or the
  // deadline passes: most handlers never look at it.
  let controller: AbortController | undefined;
  const signal = () => {
    controller ??= new AbortController();
    return controller.signal;
  };
  const contextFor = (scope: unknown) =>
    createContext(rt.queue, message, attempt, signal, rt.logger, scope);
  const idempotency = rt.options.idempotency;
  let run: Promise<"completed" | "duplicate" | "in-progress">;
  if (idempotency === undefined) {
    const result = rt.handler(value, contextFor(undefined));
    // A synchronous handler has finished already: no deadline to watch.
    if (typeof (result as PromiseLike<void> | undefined)?.then !== "function") return "completed";
    run = Promise.resolve(result).then(() => "completed");
  } else {
    // No key means the guard cannot keep its promise: idempotencyKeyOf
    // throws a NonRetryableError and the message is dead-lettered.
    const key = idempotencyKeyOf(idempotency.key, value, contextFor(undefined));
    run = idempotency.guard
      .run(key, async (scope) => rt.handler(value, contextFor(scope)))
      .then((outcome) => outcome.status);
  }
  const timeoutMs = rt.options.timeoutMs;
  if (timeoutMs === 0) return run;

  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      rt.meters.timeouts.inc();
      // The handler may ignore its signal: its lane waits for this.
      timing.overrun = run.then(
        () => undefined,
        () => undefined,
      );
      const error = new HandlerTimeoutError(timeoutMs);
      controller ??= new AbortController();
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    run.then(
      (status) => {
        clearTimeout(timer);
        resolve(status);
      },
      (error: unknown) => {
        clearTimeout(timer);
        // A handler that ignored its signal may fail after the deadline.
        if (timedOut) {
          rt.logger.debug(
            { ...messageLogFields(message, attempt), err: error },
            "handler failed after its timeout",
          );
        }
        reject(error);
      },
    );
  });
}
