/**
 * The harness's publisher: numbered messages `{ seq }` with confirms, each
 * with messageId `<run>:<seq>`. A publish that rejects is in doubt (the
 * broker may or may not have it); with `retryInDoubt` the caller publishes
 * it again with the same messageId until it is confirmed, as a service
 * should, and the consumers' idempotency guard suppresses the copy.
 */
import type { Warren } from "../../../src/client.ts";

export interface PublishResult {
  published: number;
  confirmed: Set<number>;
  /** Publishes that rejected (in doubt), counted once per rejection. */
  rejected: number;
  /** Publishes that never got a confirm (after retries, or without them). */
  unconfirmed: number;
  /** Error codes of the rejections, with counts. */
  errors: Record<string, number>;
}

export interface PublishOptions {
  run: string;
  queue: string;
  from: number;
  to: number;
  /** Publishes in flight at once. @default 50 */
  window?: number;
  /** Pause between windows, in milliseconds, to spread a burst over time. @default 0 */
  pauseMs?: number;
  /** Publish a rejected message again with the same messageId. @default true */
  retryInDoubt?: boolean;
  /** Give up retrying one message after this long. @default 120000 */
  retryForMs?: number;
  /** Called after each window with the number published so far. */
  onProgress?: (published: number) => void | Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function publishNumbered(
  warren: Warren,
  options: PublishOptions,
): Promise<PublishResult> {
  const result: PublishResult = {
    published: 0,
    confirmed: new Set(),
    rejected: 0,
    unconfirmed: 0,
    errors: {},
  };
  const window = options.window ?? 50;
  const publishOne = async (seq: number) => {
    const deadline = Date.now() + (options.retryForMs ?? 120_000);
    for (;;) {
      try {
        await warren.publish(options.queue, { seq }, { messageId: `${options.run}:${seq}` });
        result.confirmed.add(seq);
        return;
      } catch (error) {
        result.rejected++;
        const code = String((error as { code?: unknown }).code ?? (error as Error).name);
        result.errors[code] = (result.errors[code] ?? 0) + 1;
        if (options.retryInDoubt === false || Date.now() > deadline) {
          result.unconfirmed++;
          return;
        }
        await sleep(250);
      }
    }
  };
  for (let start = options.from; start <= options.to; start += window) {
    const end = Math.min(options.to, start + window - 1);
    const batch: Promise<void>[] = [];
    for (let seq = start; seq <= end; seq++) batch.push(publishOne(seq));
    result.published += batch.length;
    await Promise.all(batch);
    await options.onProgress?.(result.published);
    if (options.pauseMs) await sleep(options.pauseMs);
  }
  return result;
}
