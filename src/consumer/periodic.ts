/**
 * A task run every interval, never two at once: a run still going when the
 * next tick comes makes that tick a no-op. The consumer's background
 * readers (depth.ts, subscription-watch.ts) use it; their timer is unref'd,
 * so it never keeps a process alive.
 */

/** Runs `task` every `intervalMs` (and at once when `runNow`); failures go to `onError`. */
export function runPeriodically(options: {
  task: () => Promise<void>;
  intervalMs: number;
  onError: (error: unknown) => void;
  runNow?: boolean;
}): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= options
      .task()
      .catch(options.onError)
      .finally(() => {
        running = undefined;
      });
  };
  if (options.runNow === true) tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    /** Stops the ticks and waits for a run in progress. */
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
