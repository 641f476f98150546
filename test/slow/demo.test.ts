/**
 * `npm run demo` with a small --orders, against the run's broker and
 * PostgreSQL (RABBITMQ_URL and DATABASE_URL from the global setup): it must
 * account for every order and exit 0, and print its summary and the dead
 * letters as `warren dlq list` shows them.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

function runDemo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["scripts/demo.ts", ...args],
      { cwd: root, env: process.env, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("npm run demo", () => {
  it("accounts for every order, prints the summary and exits 0", async () => {
    const run = await runDemo(["--orders", "30"]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/accepted\s+30 orders \(202 Accepted\), 90 messages through the outbox/);
    // Order 7 is poison: its fulfilment ends in orders.fulfil.dlq.
    expect(out).toMatch(/processed\s+29 orders/);
    expect(out).toMatch(/dead-lettered\s+1 orders/);
    expect(out).toMatch(/lost \/ done twice\s+0 \/ 0/);
    expect(out).toMatch(/retried\s+\d+ attempts/);
    expect(out).toMatch(/duplicates suppressed\s+[1-9]\d* \(3 re-sent copies/);
    expect(out).toMatch(/API response time\s+p50 [\d.]+ m?s, p99 [\d.]+ m?s/);
    expect(out).toMatch(/order completion\s+p50 [\d.]+ m?s, p99/);
    expect(out).toContain("SIGKILL worker-1");
    expect(out).toContain("worker-1 restarted");
    expect(out).toMatch(/"orders\.fulfil\.dlq" in vhost "warren-demo-\w+" holds \d+ messages?/);
    expect(out).toContain("reason retries-exhausted  attempts 3");
    expect(out).toContain("SKU discontinued");
    expect(out).toContain("OK: all 30 orders accounted for: none lost, none processed twice.");
  }, 300_000);
});
