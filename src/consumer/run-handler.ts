/**
 * Runs the user's handler for one decoded message: through the idempotency
 * guard when there is one, under the handler's `timeoutMs` deadline, with an
 * `AbortSignal` made only when the handler reads it or the deadline passes.
 */
import type { ConsumeMessage } from "amqplib";
import { Deadlines, type Expiring } from "../publisher/deadlines.ts";
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

const completed = (): RunStatus => "completed";
const asStatus = (status: unknown) => status as RunStatus;

/**
 * Runs the handler with its deadline; throws (or rejects with) what the
 * handler threw. Not `async`: a synchronous handler's status comes back as
 * is, and an async one's promise is not wrapped in one more.
 */
export function runHandler<T>(
  rt: DeliveryRuntime<T>,
  value: T,
  message: ConsumeMessage,
  attempt: number,
  timing: HandlerTiming,
): RunStatus | Promise<RunStatus> {
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
  // Without a guard, `run` is the handler's own promise (whatever it
  // resolves to means "completed"): no promise layer is added per message.
  let run: Promise<unknown>;
  if (idempotency === undefined) {
    const result = rt.handler(value, contextFor(undefined));
    // A synchronous handler has finished already: no deadline to watch.
    if (typeof (result as PromiseLike<void> | undefined)?.then !== "function") return "completed";
    // A foreign thenable is adopted once, so it cannot settle twice.
    run = result instanceof Promise ? result : Promise.resolve(result);
  } else {
    // No key means the guard cannot keep its promise: idempotencyKeyOf
    // throws a NonRetryableError and the message is dead-lettered.
    const key = idempotencyKeyOf(idempotency.key, value, contextFor(undefined));
    run = idempotency.guard
      .run(key, async (scope) => rt.handler(value, contextFor(scope)))
      .then((outcome) => outcome.status);
  }
  const statusOf = idempotency === undefined ? completed : asStatus;
  const timeoutMs = rt.options.timeoutMs;
  if (timeoutMs === 0) return run.then(statusOf);

  const { promise, resolve, reject } = Promise.withResolvers<RunStatus>();
  const watch: HandlerDeadline = {
    deadline: 0,
    state: "running",
    timer: undefined,
    expire: () => {
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
    },
  };
  const deadlines = deadlinesOf(rt);
  deadlines.track(watch, timeoutMs, performance.now());
  run.then(
    (status) => {
      if (watch.state === "done") return;
      watch.state = "done";
      deadlines.settled(watch);
      resolve(statusOf(status));
    },
    (error: unknown) => {
      if (watch.state === "done") {
        // A handler that ignored its signal may fail after the deadline.
        rt.logger.debug(
          { ...messageLogFields(message, attempt), err: error },
          "handler failed after its timeout",
        );
        return;
      }
      watch.state = "done";
      deadlines.settled(watch);
      reject(error);
    },
  );
  return promise;
}

type RunStatus = "completed" | "duplicate" | "in-progress";

/** The deadline of one running handler. */
interface HandlerDeadline extends Expiring {
  state: "running" | "done";
  expire(): void;
}

/**
 * The handler deadlines of each consumer, on one sweeping timer
 * (publisher/deadlines.ts) rather than a `setTimeout` and `clearTimeout`
 * per message: every handler of a consumer has the same `timeoutMs`, so
 * they expire in the order they started.
 */
const deadlinesByRuntime = new WeakMap<object, Deadlines<HandlerDeadline>>();

function deadlinesOf<T>(rt: DeliveryRuntime<T>): Deadlines<HandlerDeadline> {
  let deadlines = deadlinesByRuntime.get(rt);
  if (deadlines === undefined) {
    deadlines = new Deadlines<HandlerDeadline>(rt.options.timeoutMs, (watch) => {
      watch.state = "done";
      deadlines?.settled(watch);
      watch.expire();
    });
    deadlinesByRuntime.set(rt, deadlines);
  }
  return deadlines;
}
