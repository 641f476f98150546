/**
 * Consumer concurrency: does throughput scale with `concurrency` when the
 * handler waits on I/O? A durable classic queue is pre-filled with
 * `messages` 1 KiB messages and drained by warren's consumer at concurrency
 * 1, 2, 4 and 8 (prefetch 1 per lane, warren's default), with a handler that
 * awaits a 1 ms timer, standing in for 1 ms of I/O (a database or HTTP call).
 * One lane is bound by the wait (at most about 1,000 msg/s); n lanes should
 * come close to n times that until the broker or the cores are full.
 *
 * Each run is a fresh process (measure-one.ts) like every other
 * measurement; the levels rotate which goes first each round. The clock runs
 * from the first delivery to the last.
 */
import { connect } from "../src/client.ts";
import { type BenchContext, type Measurement, median, type Scenario, scaled } from "./scenario.ts";
import { topologyFor, withQueue } from "./systems.ts";

export const concurrencyBenchDefaults = Object.freeze({
  /** Messages per run. */
  messages: 4_000,
  /** The concurrency levels measured. */
  levels: [1, 2, 4, 8] as readonly number[],
  /** How long the handler waits, in milliseconds. */
  waitMs: 1,
});

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** warren draining a pre-filled queue at `concurrency` with the 1 ms handler. */
export function concurrencyScenario(concurrency: number): Scenario {
  return {
    label: `warren consume, concurrency ${concurrency}, handler awaiting ${concurrencyBenchDefaults.waitMs} ms`,
    run: (context) => {
      const messages = scaled(context, concurrencyBenchDefaults.messages);
      return withQueue(context, "classic", messages, async (queue) => {
        const warren = await connect({
          url: context.url,
          topology: topologyFor(queue),
          serviceName: "bench",
        });
        try {
          const { promise, resolve } = Promise.withResolvers<Measurement>();
          let count = 0;
          let started = 0;
          const consumer = await warren.consume(
            queue,
            async () => {
              if (count === 0) started = performance.now();
              await wait(concurrencyBenchDefaults.waitMs);
              if (++count === messages) {
                resolve({ messages, seconds: (performance.now() - started) / 1000 });
              }
            },
            { concurrency },
          );
          const measurement = await promise;
          await consumer.close();
          return measurement;
        } finally {
          await warren.close();
        }
      });
    },
  };
}

/** Median rate of one concurrency level over the rounds. */
export interface ConcurrencyRow {
  concurrency: number;
  rate: number;
  runs: number;
}

/**
 * Runs every level `rounds` times (after one unmeasured warm-up run), each
 * in `runFresh`, rotating which level goes first each round.
 */
export async function measureConcurrency(
  context: BenchContext,
  rounds: number,
  runFresh: (concurrency: number) => Promise<Measurement>,
  log: (line: string) => void = () => {},
): Promise<ConcurrencyRow[]> {
  const levels = concurrencyBenchDefaults.levels;
  await runFresh(levels[0] as number);
  const rates = levels.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < levels.length; k++) {
      const index = (round + k) % levels.length;
      const level = levels[index] as number;
      const measured = await runFresh(level);
      const rate = measured.messages / measured.seconds;
      rates[index]?.push(rate);
      log(`concurrency #${round + 1} ${level}: ${rate.toFixed(0)} msg/s`);
    }
  }
  void context;
  return levels.map((concurrency, index) => ({
    concurrency,
    rate: median(rates[index] ?? []),
    runs: rates[index]?.length ?? 0,
  }));
}

/** The concurrency table, with speed-up and efficiency against concurrency 1. */
export function formatConcurrency(rows: readonly ConcurrencyRow[]): string {
  const one = rows[0]?.rate ?? Number.NaN;
  const lines = [
    "| concurrency | median msg/s | speed-up vs 1 | per lane (speed-up / concurrency) | runs |",
    "|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    const speedUp = row.rate / one;
    lines.push(
      `| ${row.concurrency} | ${row.rate.toFixed(0)} | ${speedUp.toFixed(2)}× | ${((100 * speedUp) / row.concurrency).toFixed(0)} % | ${row.runs} |`,
    );
  }
  return lines.join("\n");
}
