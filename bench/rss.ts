/**
 * Memory under a publisher that outruns the broker: warren is handed
 * `publishes` 1 KiB publishes, `batch` per event-loop turn without awaiting
 * any, far faster than the broker confirms them, while the process's RSS is
 * sampled every `sampleMs`. warren's window (`maxInFlight`) and backlog
 * (`maxQueued`) bound what it holds: a publish beyond them is refused at
 * once (`WARREN_PUBLISH_BACKLOG_FULL`) instead of growing the heap, so RSS
 * should level off however many are issued.
 *
 * Runs in a fresh process (measure-one.ts); the measurement's `note` carries
 * the RSS figures and the outcome counts, which run.ts prints as a table.
 */
import { connect } from "../src/client.ts";
import { ErrorCode } from "../src/errors.ts";
import type { Scenario } from "./scenario.ts";
import { payload, withQueue } from "./systems.ts";

export const rssBenchDefaults = Object.freeze({
  /** Publishes issued. */
  publishes: 200_000,
  /** Publishes issued per event-loop turn. */
  batch: 1_000,
  /** RSS sampling interval, in milliseconds. */
  sampleMs: 100,
});

/** What the RSS run saw, in MiB and counts. */
export interface RssFigures {
  /** RSS after connecting, before the first publish. */
  startMiB: number;
  /** Highest RSS sampled while publishes were issued or pending. */
  maxMiB: number;
  /** RSS once every publish had settled. */
  endMiB: number;
  /** RSS every second, MiB. */
  series: number[];
  confirmed: number;
  refused: number;
  failed: number;
  issuedSeconds: number;
  settledSeconds: number;
}

const MiB = 1024 * 1024;

export const rssScenario: Scenario = {
  label: `warren, ${rssBenchDefaults.publishes} publishes issued without awaiting`,
  run: (context) =>
    withQueue(context, "classic", 0, async (queue) => {
      const warren = await connect({ url: context.url, serviceName: "bench" });
      try {
        const startRss = process.memoryUsage.rss();
        let maxRss = startRss;
        const series: number[] = [];
        const started = performance.now();
        let lastSecond = -1;
        const sampler = setInterval(() => {
          const rss = process.memoryUsage.rss();
          maxRss = Math.max(maxRss, rss);
          const second = Math.floor((performance.now() - started) / 1000);
          if (second > lastSecond) {
            lastSecond = second;
            series.push(Math.round(rss / MiB));
          }
        }, rssBenchDefaults.sampleMs);
        let confirmed = 0;
        let refused = 0;
        let failed = 0;
        // Counted, not collected: an array of 200,000 promises would be the
        // bench's own memory, not warren's.
        const { publishes, batch } = rssBenchDefaults;
        const allSettled = Promise.withResolvers<void>();
        let pending = 0;
        let issuing = true;
        const settle = () => {
          if (--pending === 0 && !issuing) allSettled.resolve();
        };
        for (let i = 0; i < publishes; i += batch) {
          for (let j = i; j < Math.min(publishes, i + batch); j++) {
            pending++;
            warren.publish(queue, payload(j)).then(
              () => {
                confirmed++;
                settle();
              },
              (error: { code?: string }) => {
                if (error.code === ErrorCode.WARREN_PUBLISH_BACKLOG_FULL) refused++;
                else failed++;
                settle();
              },
            );
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        const issuedSeconds = (performance.now() - started) / 1000;
        issuing = false;
        if (pending === 0) allSettled.resolve();
        await allSettled.promise;
        const settledSeconds = (performance.now() - started) / 1000;
        clearInterval(sampler);
        const figures: RssFigures = {
          startMiB: Math.round(startRss / MiB),
          maxMiB: Math.round(Math.max(maxRss, process.memoryUsage.rss()) / MiB),
          endMiB: Math.round(process.memoryUsage.rss() / MiB),
          series,
          confirmed,
          refused,
          failed,
          issuedSeconds,
          settledSeconds,
        };
        return { messages: publishes, seconds: settledSeconds, note: JSON.stringify(figures) };
      } finally {
        await warren.close();
      }
    }),
};

/** The RSS table of one or more runs. */
export function formatRss(runs: readonly RssFigures[]): string {
  const lines = [
    "| run | RSS before (MiB) | max RSS (MiB) | RSS after (MiB) | confirmed | refused (backlog full) | other failures | issued in (s) | all settled in (s) | RSS over time (MiB, evenly spaced seconds) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  runs.forEach((r, i) => {
    // At most about 20 points of the series, evenly spaced, and the last.
    const step = Math.max(1, Math.ceil(r.series.length / 20));
    const points = r.series.filter((_, k) => k % step === 0 || k === r.series.length - 1);
    lines.push(
      `| ${i + 1} | ${r.startMiB} | ${r.maxMiB} | ${r.endMiB} | ${r.confirmed} | ${r.refused} | ${r.failed} | ${r.issuedSeconds.toFixed(1)} | ${r.settledSeconds.toFixed(1)} | ${points.join(", ")} |`,
    );
  });
  return lines.join("\n");
}
