/**
 * What a worker module exports for `warren worker <module>`: one
 * {@link defineWorker} per consumed queue, as the module's default export
 * (one or a list) or as named exports. The command (and `runWorker`) reads
 * them with {@link workersOf}.
 *
 * ```ts
 * // workers.ts
 * export default defineWorker<{ orderId: string }>({
 *   queue: "orders.fulfil",
 *   handler: async (order, ctx) => { ... },
 *   options: { concurrency: 4, timeoutMs: 60_000 },
 * });
 * ```
 */
import type { ConsumeOptions, Handler } from "../consumer/options.ts";
import { ConsumeError, ErrorCode } from "../errors.ts";

const WORKER = Symbol.for("warren.worker");

/** One queue and its handler, as `warren worker` runs it. */
export interface WorkerDefinition<T = unknown> {
  /** A work queue of the topology. */
  readonly queue: string;
  readonly handler: Handler<T>;
  /** `consume` options; `warren worker --concurrency` overrides `concurrency`. */
  readonly options: ConsumeOptions<T>;
  readonly [WORKER]: true;
}

/** Declares a worker: the queue, its handler and its `consume` options. */
export function defineWorker<T = unknown>(definition: {
  queue: string;
  handler: Handler<T>;
  options?: ConsumeOptions<T>;
}): WorkerDefinition<T> {
  if (typeof definition?.queue !== "string" || definition.queue === "") {
    throw new ConsumeError(
      ErrorCode.WARREN_WORKER_INVALID,
      "defineWorker: `queue` must name a work queue of the topology",
    );
  }
  if (typeof definition.handler !== "function") {
    throw new ConsumeError(
      ErrorCode.WARREN_WORKER_INVALID,
      `defineWorker("${definition.queue}"): \`handler\` must be a function`,
    );
  }
  return Object.freeze({
    queue: definition.queue,
    handler: definition.handler,
    options: Object.freeze({ ...definition.options }),
    [WORKER]: true as const,
  });
}

function isWorker(value: unknown): value is WorkerDefinition {
  return typeof value === "object" && value !== null && WORKER in value;
}

/**
 * The workers a module exports: its default export (one definition or a
 * list), else every named export that is one or a list of them. Throws
 * `WARREN_WORKER_INVALID` when there is none or one queue is defined twice.
 */
export function workersOf(module: Record<string, unknown>, where: string): WorkerDefinition[] {
  const collect = (value: unknown): WorkerDefinition[] =>
    Array.isArray(value) ? value.filter(isWorker) : isWorker(value) ? [value] : [];
  let workers = collect(module.default);
  if (workers.length === 0) workers = Object.values(module).flatMap(collect);
  if (workers.length === 0) {
    throw new ConsumeError(
      ErrorCode.WARREN_WORKER_INVALID,
      `${where} exports no worker: export default defineWorker({ queue, handler }) (or a list of them)`,
    );
  }
  const seen = new Set<string>();
  for (const worker of workers) {
    if (seen.has(worker.queue)) {
      throw new ConsumeError(
        ErrorCode.WARREN_WORKER_INVALID,
        `${where} defines two workers for queue "${worker.queue}": merge them into one handler`,
      );
    }
    seen.add(worker.queue);
  }
  return workers;
}
