/**
 * `warren worker` as a container runs it: a child process started from the
 * CLI with a worker module, health and metrics on a port, and SIGTERM in
 * the middle of a backlog. Every message must end either handled exactly
 * once (in the module's ledger) or still in its queue.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTlsProxy, TLS_SERVER_NAME } from "../../support/tls-proxy.ts";
import { waitFor } from "../consumer/harness.ts";
import {
  cleanups,
  expectAccounted,
  handled,
  remaining,
  runCleanups,
  setup,
  startWorker,
} from "./support.ts";

afterEach(runCleanups);

describe("warren worker", () => {
  it("serves health and metrics, drains on SIGTERM mid-load and exits 0; every message handled once or still queued", async () => {
    const work = await setup(300);
    const { url, ids } = work;
    const worker = await startWorker(work, {
      args: ["--concurrency", "4"],
      env: { WORKER_DELAY_MS: "50" },
    });

    expect((await fetch(`${worker.healthUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${worker.healthUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: unknown }).checks).toEqual([
      { name: "publisher", ready: true },
      { name: "consumer:work", ready: true },
    ]);
    const metrics = await (await fetch(`${worker.healthUrl}/metrics`)).text();
    expect(metrics).toContain('warren_consumers{queue="work"} 4');

    await waitFor(async () => (await handled(worker.ledger)).length >= 40, 30_000, "40 handled");
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(worker.logs.map((line) => line.msg)).toContain("drained: exiting");

    const done = await handled(worker.ledger);
    const queued = await remaining(url);
    expect(done.length).toBeGreaterThanOrEqual(40);
    expect(queued.length, "SIGTERM came mid-load").toBeGreaterThan(0);
    expectAccounted(ids, done, queued);
  });

  it("reaches the broker over TLS with --ca, --cert, --key and --servername, like the other commands", async () => {
    const work = await setup(5);
    const proxy = await startTlsProxy(work.url);
    cleanups.push(() => proxy.close());
    const worker = await startWorker(work, {
      args: [
        ...["--url", proxy.url, "--ca", proxy.caFile, "--cert", proxy.certFile],
        ...["--key", proxy.keyFile, "--servername", TLS_SERVER_NAME],
      ],
      env: { WORKER_DELAY_MS: "0" },
    });
    await waitFor(async () => (await handled(worker.ledger)).length === 5, 15_000, "5 handled");
    expect(proxy.accepted).toBe(2); // the publisher and the consumer connection
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect((await handled(worker.ledger)).sort()).toEqual([...work.ids].sort());
  });

  it("exits 2 when handlers outlive the drain deadline; their messages go back to the queue", async () => {
    const work = await setup(10);
    const { url, ids } = work;
    const worker = await startWorker(work, {
      args: ["--concurrency", "2", "--drain-timeout-ms", "300"],
      env: { WORKER_DELAY_MS: "3000" },
    });
    await waitFor(
      async () => {
        const text = await (await fetch(`${worker.healthUrl}/metrics`)).text();
        return /warren_handlers_in_flight\{queue="work"\} 2/.test(text);
      },
      10_000,
      "2 handlers running",
    );
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(2);
    const queued = await remaining(url);
    expectAccounted(ids, await handled(worker.ledger), queued);
    expect(queued.length).toBe(10);
  });
});
