/**
 * `warren status --watch` as an operator runs it: the real process, which
 * reports again every `--interval-ms` (appending, since its stdout is not a
 * terminal) until Ctrl-C, and whose later reports follow the broker.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../consumer/harness.ts";
import { freshTopology, publishDeadLetters } from "../dlq/helpers.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

let topology: Awaited<ReturnType<typeof freshTopology>>;
let dir: string;
let file: string;

beforeAll(async () => {
  const queues = { work: { retry: { delays: ["1s"], maxAttempts: 2 } } };
  topology = await freshTopology(queues);
  dir = await mkdtemp(join(tmpdir(), "warren-status-watch-"));
  file = join(dir, "topology.json");
  await writeFile(
    file,
    JSON.stringify({ vhost: topology.vhost, exchanges: { orders: { type: "topic" } }, queues }),
  );
});

afterAll(async () => {
  await topology.remove();
  await rm(dir, { recursive: true, force: true });
});

describe("warren status --watch", () => {
  it("reports every --interval-ms, follows a new dead letter, and stops on Ctrl-C with 130", async () => {
    const child = spawn(
      process.execPath,
      ["src/cli/run.ts", "status", file, "--watch", "--interval-ms", "300"],
      { cwd: repoRoot, env: process.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const reports = () => stdout.split(`vhost "${topology.vhost}" at `).slice(1);
    try {
      await waitFor(
        () => reports().length >= 2,
        20_000,
        () => `two reports (stdout: ${stdout}; stderr: ${stderr})`,
      );
      expect(reports()[0]).toContain("problem: no-consumers: work has no consumer");
      expect(reports()[0]).not.toContain("dlq-not-empty");

      await publishDeadLetters(topology.url, "work", [{ messageId: "dead-1" }]);
      const seenBefore = reports().length;
      await waitFor(
        () => reports().at(-1)?.includes("problem: dlq-not-empty"),
        20_000,
        () => `a report with the dead letter (last: ${reports().at(-1)})`,
      );
      expect(reports().length).toBeGreaterThan(seenBefore);
      // Appended, not redrawn: the earlier reports are all still there, each
      // with its own read time, and no terminal escape was written.
      const times = reports().map((report) => Date.parse(report.slice(0, 24)));
      const gaps = times.slice(1).map((at, i) => at - (times[i] as number));
      // Each report waits --interval-ms after the one before (plus its reads).
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(300);
      expect(stdout).not.toContain("\u001b[");
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(130);
    expect(stderr).toContain("interrupted");
  });
});
