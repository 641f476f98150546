import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodeFor } from "../../../src/cli/main.ts";
import { ErrorCode, PublishError, TopologyError, WarrenError } from "../../../src/errors.ts";
import { runInProcess } from "../../support/cli-in-process.ts";

const run = runInProcess;

const file = join(import.meta.dirname, "../../../topology/orders.yaml");

describe("warren --version", () => {
  it("prints the package's version and exits 0", async () => {
    const pkg = JSON.parse(
      await readFile(join(import.meta.dirname, "../../../package.json"), "utf8"),
    ) as { version: string };
    const { code, stdout } = await run(["--version"]);
    expect(code).toBe(0);
    expect(stdout).toBe(`${pkg.version}\n`);
  });
});

describe("flags that would do nothing", () => {
  it.each([
    [["topology", "validate", file, "--url", "amqp://u:p@h"], "--url"],
    [["topology", "validate", file, "--vhost", "v"], "--vhost"],
    [["topology", "validate", file, "--timeout-ms", "5"], "--timeout-ms"],
    [["topology", "export", file, "--ca", "ca.pem"], "--ca"],
    [["topology", "export", file, "--management-url", "http://h:15672"], "--management-url"],
    [["topology", "export", file, "--cert", "c.pem", "--key", "k.pem"], "--cert, --key"],
  ])("refuses %j, naming %s", async (argv, flags) => {
    const { code, stdout, stderr } = await run(argv);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`${flags} ha`);
    expect(stderr).toContain("no effect");
    expect(stderr).not.toContain("u:p@");
  });

  it("still accepts --json on validate and --vhost on export", async () => {
    expect((await run(["topology", "validate", file, "--json"])).code).toBe(0);
    const exported = await run(["topology", "export", file, "--vhost", "other"]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('"other"');
  });

  it("lists only the flags a command acts on in its help", async () => {
    const { stdout } = await run(["topology", "validate", "--help"]);
    expect(stdout).not.toContain("--url");
    expect(stdout).toContain("--json");
    expect((await run(["topology", "plan", "--help"])).stdout).toContain("--url");
  });
});

describe("exit codes", () => {
  it("chooses 2 for a topology conflict by class and code, 1 for anything else", () => {
    expect(exitCodeFor(new TopologyError(ErrorCode.WARREN_TOPOLOGY_CONFLICT, "x"))).toBe(2);
    expect(exitCodeFor(new TopologyError(ErrorCode.WARREN_TOPOLOGY_INVALID, "x"))).toBe(1);
    expect(exitCodeFor(new PublishError(ErrorCode.WARREN_PUBLISH_NACKED, "x"))).toBe(1);
    expect(exitCodeFor(new WarrenError(ErrorCode.WARREN_CLI_USAGE, "x"))).toBe(1);
    expect(exitCodeFor(new Error("WARREN_TOPOLOGY_CONFLICT"))).toBe(1);
  });
});
