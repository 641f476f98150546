import { describe, expect, it } from "vitest";
import { runInProcess } from "../../support/cli-in-process.ts";

const run = runInProcess;

describe("warren console (command line)", () => {
  it("is listed in the usage, and its --help names its flags and defaults", async () => {
    expect((await run(["--help"])).stdout).toMatch(
      /\n {2}console \[topology-file\] \[--port 8080\] \[--host 127\.0\.0\.1\] +serve a local web page/,
    );
    const help = await run(["console", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: warren console [topology-file] [--port 8080]");
    expect(help.stdout).toContain("(default 127.0.0.1: this machine only)");
    expect(help.stdout).toContain("--management-url");
  });

  it("refuses a bad --port or --refresh-ms, and a second file, before touching the network", async () => {
    const port = await run(["console", "--port", "http"]);
    expect(port.code).toBe(1);
    expect(port.stderr).toContain('error: --port must be an integer from 0 to 65535, got "http"');
    const big = await run(["console", "--port", "70000", "--json"]);
    expect(big.code).toBe(1);
    expect(JSON.parse(big.stdout)).toMatchObject({
      ok: false,
      error: { code: "WARREN_CLI_USAGE" },
    });
    const refresh = await run(["console", "--refresh-ms", "10"]);
    expect(refresh.stderr).toContain("--refresh-ms must be an integer from 500 to 3600000");
    const extra = await run(["console", "a.yaml", "b.yaml"]);
    expect(extra.code).toBe(1);
    expect(extra.stderr).toContain('error: unexpected argument "b.yaml"');
  });

  it("reports a missing topology file with its code", async () => {
    const missing = await run(["console", "no-such-file.yaml", "--json"]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).error.code).toBe("WARREN_TOPOLOGY_NOT_FOUND");
  });
});
