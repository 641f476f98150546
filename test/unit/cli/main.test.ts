import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../../support/cli-in-process.ts";

const run = runInProcess;

let dir: string;
let good: string;
let bad: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "warren-cli-unit-"));
  good = join(dir, "good.yaml");
  bad = join(dir, "bad.yaml");
  await writeFile(
    good,
    [
      "vhost: /",
      "exchanges:",
      "  orders: { type: topic }",
      "queues:",
      "  work:",
      "    bindings: [{ exchange: orders, routingKey: 'order.*' }]",
      "    retry: { delays: [1s] }",
      "",
    ].join("\n"),
  );
  await writeFile(
    bad,
    "exchanges:\n  orders: { type: topic }\nqueues:\n  q:\n    bindings: [{ exchange: order }]\n",
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("warren CLI", () => {
  it("prints usage listing the topology commands on --help and exits 0", async () => {
    const { code, stdout } = await run(["--help"]);
    expect(code).toBe(0);
    for (const command of ["validate", "plan", "apply", "export"]) {
      expect(stdout).toContain(`topology ${command}`);
    }
    expect(stdout).toContain("--json");
  });

  it("prints a command's help with its own flags", async () => {
    const { code, stdout } = await run(["topology", "apply", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("--dry-run");
  });

  it.each([
    [[], "no command given"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["topology"], '"topology" needs a command'],
    [["topology", "destroy", "x.yaml"], 'unknown command "topology destroy"'],
    [["topology", "validate"], "missing argument"],
    [["topology", "validate", "a.yaml", "b.yaml"], 'unexpected argument "b.yaml"'],
    [["topology", "plan", "a.yaml", "--dry-run"], "--dry-run"],
    [["topology", "validate", "a.yaml", "--bogus"], "--bogus"],
    [["topology", "export", "a.yaml", "--format", "yaml"], 'unknown --format "yaml"'],
  ])("exits 1 with usage for %j", async (argv, message) => {
    const { code, stderr } = await run(argv);
    expect(code).toBe(1);
    expect(stderr).toContain(message);
  });

  it("validates a file without a broker", async () => {
    const { code, stdout } = await run(["topology", "validate", good]);
    expect(code).toBe(0);
    expect(stdout).toContain("is valid");
    const json = await run(["topology", "validate", good, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, topology: { vhost: "/" } });
  });

  it("exits 1 with the file's problems for an invalid file, as text and as JSON", async () => {
    const { code, stderr, stdout } = await run(["topology", "validate", bad]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain('exchange "order"');
    const json = await run(["topology", "validate", bad, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: "WARREN_TOPOLOGY_INVALID" },
    });
  });

  it("exports definitions to stdout, with the vhost overridden by --vhost", async () => {
    const { code, stdout } = await run(["topology", "export", good, "--vhost", "staging"]);
    expect(code).toBe(0);
    const definitions = JSON.parse(stdout);
    expect(definitions.vhosts).toEqual([{ name: "staging" }]);
    expect(definitions.queues.map((q: { name: string }) => q.name)).toEqual([
      "work",
      "work.retry.1s",
      "work.dlq",
    ]);
    expect(definitions.queues.every((q: { vhost: string }) => q.vhost === "staging")).toBe(true);
    expect(definitions.bindings[0]).toMatchObject({
      source: "orders",
      destination: "work",
      routing_key: "order.*",
    });
  });

  it("exits 1 with one line, and no password, when the broker is unreachable", async () => {
    const { code, stderr } = await run([
      "topology",
      "plan",
      good,
      "--url",
      "amqp://admin:Secr3t%21pw@127.0.0.1:1/x",
      "--management-url",
      "http://admin:Secr3t%21pw@127.0.0.1:1",
      "--timeout-ms",
      "2000",
    ]);
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toContain("unreachable");
    expect(stderr).not.toContain("Secr3t");
  });

  it("rejects an invalid URL without echoing its password", async () => {
    const { code, stderr } = await run(["topology", "plan", good], {
      RABBITMQ_URL: "http://u:topsecret@host",
    });
    expect(code).toBe(1);
    expect(stderr).toContain('protocol "http:"');
    expect(stderr).not.toContain("topsecret");
  });
});
