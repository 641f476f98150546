/** Scenario 1: the baseline, no fault. */
import { describe, expect } from "vitest";
import { clusterScenario, expectPassed } from "./context.ts";

/** Messages of the baseline run, as issue 16 asks (about 100 s on a quiet 2-core machine; see docs/reliability.md). */
export const BASELINE_MESSAGES = 10_000;

export function baselineScenario(): void {
  describe("1. baseline", () => {
    clusterScenario(
      "01-baseline",
      `handles ${BASELINE_MESSAGES} messages exactly once with two consumer processes, the queue replicated on every node`,
      async (s) => {
        const queue = (await (
          await s.env.management(`/api/queues/${encodeURIComponent(s.vhost)}/work`)
        ).json()) as { members?: string[]; type?: string };
        expect(queue.type).toBe("quorum");
        expect(queue.members).toHaveLength(3);

        await s.startConsumer();
        await s.startConsumer();
        const published = await s.publish({ from: 1, to: BASELINE_MESSAGES, window: 200 });
        expect(published.rejected).toBe(0);
        const report = await s.finish();
        expectPassed(report);
        expect(report.handled).toBe(BASELINE_MESSAGES);
        expect(report.duplicatesSuppressed).toBe(0);
        expect(report.deadLettered).toBe(0);
      },
    );
  });
}
