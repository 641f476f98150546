/**
 * Waiting in tests: a pause, and polling until something holds. Deadlines
 * are generous on purpose; the machine running the suite may be busy.
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` every 50 ms until it holds; throws, naming `what`, when
 * it still does not after `timeoutMs`.
 */
export async function until(
  condition: () => boolean,
  timeoutMs: number,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}
