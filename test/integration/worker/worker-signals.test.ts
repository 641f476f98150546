/**
 * Operating a running `warren worker` (a child process on a real broker):
 * SIGUSR1 pauses every consumer and SIGUSR2 resumes them, and `/readyz`
 * reports a paused worker or a tripped kill switch as degraded but ready,
 * since restarting would not help.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readyCount } from "../../support/queues.ts";
import { sleep, waitFor } from "../consumer/harness.ts";
import {
  handled,
  publishWork,
  remaining,
  runCleanups,
  type Started,
  setup,
  startWorker,
} from "./support.ts";

afterEach(runCleanups);

interface ReadyBody {
  ready: boolean;
  checks: { name: string; ready: boolean; degraded?: string }[];
  degraded?: string[];
}

async function readyz(worker: Started): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(`${worker.healthUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

function logged(worker: Started, msg: string): number {
  return worker.logs.filter((line) => line.msg === msg).length;
}

describe("warren worker signals", () => {
  it("SIGUSR1 pauses (messages stay queued, /readyz 200 and degraded), SIGUSR2 resumes and handles them", async () => {
    const work = await setup(0);
    const worker = await startWorker(work, { env: { WORKER_DELAY_MS: "0" } });

    worker.child.kill("SIGUSR1");
    await waitFor(
      () => logged(worker, "worker paused: no messages taken until resumed") === 1,
      20_000,
      "the pause log line",
    );
    // /readyz names the pause as soon as the worker has taken the signal.
    await waitFor(
      async () => (await readyz(worker)).body.degraded !== undefined,
      20_000,
      "degraded",
    );
    expect(await readyz(worker)).toEqual({
      status: 200,
      body: {
        ready: true,
        reasons: [],
        checks: [
          { name: "publisher", ready: true },
          { name: "consumer:work", ready: true, degraded: "work: paused by an operator" },
        ],
        degraded: ["work: paused by an operator"],
      },
    });

    const ids = Array.from({ length: 20 }, (_, i) => `p-${i}`);
    await publishWork(work.url, ids);
    await sleep(1_000);
    expect(await handled(worker.ledger)).toEqual([]);
    expect(await readyCount(work.url, "work")).toBe(20);

    worker.child.kill("SIGUSR2");
    await waitFor(
      async () => (await handled(worker.ledger)).length === 20,
      30_000,
      async () => `20 handled after SIGUSR2 (${(await handled(worker.ledger)).length})`,
    );
    expect((await handled(worker.ledger)).sort()).toEqual([...ids].sort());
    const after = await readyz(worker);
    expect(after.status).toBe(200);
    expect(after.body.degraded).toBeUndefined();
    expect(logged(worker, "worker resumed")).toBe(1);

    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  });

  it("reports a tripped kill switch on /readyz as degraded but ready; SIGUSR2 resets it and the waiting messages are handled", async () => {
    const work = await setup(0);
    const down = join(work.dir, "down");
    await writeFile(down, "");
    const worker = await startWorker(work, {
      fixture: "outage-worker.ts",
      env: { WORKER_DOWN: down },
    });
    const ids = Array.from({ length: 10 }, (_, i) => `k-${i}`);
    await publishWork(work.url, ids);

    const degraded = "work: kill switch tripped, waiting to probe";
    await waitFor(
      async () => (await readyz(worker)).body.degraded?.includes(degraded),
      30_000,
      async () => `a tripped kill switch on /readyz: ${JSON.stringify(await readyz(worker))}`,
    );
    const tripped = await readyz(worker);
    expect(tripped.status).toBe(200);
    expect(tripped.body.ready).toBe(true);
    expect(tripped.body.checks).toContainEqual({ name: "consumer:work", ready: true, degraded });
    const metrics = await (await fetch(`${worker.healthUrl}/metrics`)).text();
    expect(metrics).toContain('warren_kill_switch_state{queue="work",state="tripped"} 1');
    expect(metrics).toContain(
      'warren_kill_switch_transitions_total{queue="work",state="tripped"} 1',
    );
    expect(worker.logs.map((line) => line.msg)).toContain(
      "kill switch tripped: too many failures; no messages taken until the probe",
    );
    // The three failures went to the 1 s tier; the other seven wait in the queue.
    expect(await readyCount(work.url, "work")).toBeGreaterThanOrEqual(7);
    expect(await handled(worker.ledger)).toEqual([]);

    // The dependency is back and the operator says so.
    await rm(down);
    worker.child.kill("SIGUSR2");
    await waitFor(
      async () => (await handled(worker.ledger)).length === 10,
      30_000,
      async () => `10 handled after SIGUSR2 (${(await handled(worker.ledger)).length})`,
    );
    expect((await handled(worker.ledger)).sort()).toEqual([...ids].sort());
    expect((await readyz(worker)).body.degraded).toBeUndefined();
    expect(await remaining(work.url, "work.dlq")).toEqual([]);
    const resumed = worker.logs.find((line) => line.msg === "kill switch: consuming resumed");
    expect(resumed).toMatchObject({ state: "resumed", by: "operator" });

    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  });
});
