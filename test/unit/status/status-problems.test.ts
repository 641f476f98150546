/**
 * statusProblems on reports built in memory: held dead letters count as a
 * problem only when the reading before showed them in the same queue (the
 * broker's side is tested in test/integration/status/status.test.ts).
 */
import { describe, expect, it } from "vitest";
import {
  type QueueCounts,
  type QueueStatusReport,
  queuesHoldingDeadLetters,
  statusProblems,
} from "../../../src/status/queue-status.ts";

function counts(name: string, held = 0): QueueCounts {
  return {
    name,
    exists: true,
    ready: 0,
    unacked: 0,
    held,
    consumers: 1,
    publishRate: 0,
    deliverRate: 0,
  };
}

/** `work` with tiers 1s and 10s; `held` by queue name. */
function report(held: Record<string, number> = {}): QueueStatusReport {
  return {
    vhost: "/",
    readAt: "2026-11-30T16:00:00.000Z",
    queues: [
      {
        ...counts("work", held.work),
        tiers: [counts("work.retry.1s", held["work.retry.1s"]), counts("work.retry.10s")],
        deadLetter: counts("work.dlq"),
        oldestDeadLetterAgeSeconds: undefined,
      },
    ],
  };
}

const heldKinds = (r: QueueStatusReport, previous?: QueueStatusReport) =>
  statusProblems(r, previous === undefined ? {} : { previous })
    .filter((p) => p.kind === "dead-letters-held")
    .map((p) => p.detail);

describe("statusProblems and held dead letters", () => {
  it("without an earlier reading, reports every queue that holds some", () => {
    expect(heldKinds(report({ work: 1, "work.retry.1s": 2 }))).toEqual([
      expect.stringMatching(/^work holds 1 dead-lettered message its target/),
      expect.stringMatching(/^work\.retry\.1s holds 2 dead-lettered messages/),
    ]);
    expect(heldKinds(report())).toEqual([]);
  });

  it("with an earlier reading, reports only queues that held some in both", () => {
    const now = report({ work: 1, "work.retry.1s": 2 });
    expect(heldKinds(now, report({ "work.retry.1s": 1 }))).toEqual([
      expect.stringMatching(/^work\.retry\.1s holds 2/),
    ]);
    expect(heldKinds(now, report())).toEqual([]);
    expect(heldKinds(report(), report({ work: 3 }))).toEqual([]);
  });

  it("lists the queues holding dead letters by name", () => {
    expect([...queuesHoldingDeadLetters(report({ "work.retry.1s": 1 }))]).toEqual([
      "work.retry.1s",
    ]);
  });
});
