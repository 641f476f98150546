// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topology files use ${VAR} interpolation
/**
 * Scenario 13: hostile topology files and CLI arguments. Each one runs the
 * real CLI (`node src/cli/run.ts`) against the run's broker and must exit 1
 * with a clear message, no stack trace, within bounded time and memory, and
 * leave the broker untouched. The figures (wall time, peak RSS of the CLI
 * process) are printed at the end and recorded in docs/hostile-inputs.md.
 *
 * WARREN_HOSTILE_TOPOLOGY_MB sets the size of the large file (default 2;
 * docs/hostile-inputs.md reports the 10 MB run).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerUrls, management, withVhost } from "../support/broker.ts";
import { aliasBomb, bigTopology } from "../support/hostile-files.ts";
import { randomName } from "../support/names.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const rssReporter = fileURLToPath(new URL("fixtures/report-rss.ts", import.meta.url));
const bigMb = Number(process.env.WARREN_HOSTILE_TOPOLOGY_MB ?? "2");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  maxRssMb: number;
}

const figures: { name: string; code: number | null; ms: number; maxRssMb: number }[] = [];

let dir: string;
let runCount = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "warren-hostile-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (figures.length > 0) {
    console.log(
      `hostile topology figures (node ${process.version}, large file ${bigMb} MB):\n${figures
        .map((f) => `  ${f.name}: exit ${f.code}, ${f.ms} ms, peak RSS ${f.maxRssMb} MB`)
        .join("\n")}`,
    );
  }
});

/** Runs the CLI, recording wall time and the process's peak RSS. */
function cli(name: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const rssFile = join(dir, `rss-${++runCount}`);
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", rssReporter, "src/cli/run.ts", ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, ...env, WARREN_RSS_FILE: rssFile },
        timeout: 240_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      async (error, stdout, stderr) => {
        const ms = Math.round(performance.now() - started);
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        const kb = Number(await readFile(rssFile, "utf8").catch(() => "0"));
        const maxRssMb = Math.round(kb / 1024);
        figures.push({ name, code, ms, maxRssMb });
        resolve({ code, stdout, stderr, ms, maxRssMb });
      },
    );
  });
}

function flags(vhost: string): string[] {
  const { url, managementUrl } = brokerUrls();
  const vhostUrl = new URL(url);
  vhostUrl.pathname = `/${encodeURIComponent(vhost)}`;
  return ["--url", vhostUrl.href, "--management-url", managementUrl];
}

/** Queue and exchange names of a vhost, to show that nothing was declared. */
async function objectsOf(vhost: string): Promise<string[]> {
  const v = encodeURIComponent(vhost);
  const queues = await management<{ name: string }[]>(`/api/queues/${v}`);
  const exchanges = await management<{ name: string }[]>(`/api/exchanges/${v}`);
  return [
    ...queues.map((q) => `queue ${q.name}`),
    ...exchanges.map((e) => `exchange ${e.name}`),
  ].sort();
}

async function file(name: string, text: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function expectClearFailure(run: Run, message: RegExp | string): void {
  expect(run.code, run.stderr).toBe(1);
  if (typeof message === "string") expect(run.stderr).toContain(message);
  else expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(run.stderr).not.toMatch(/unexpected failure/);
}

const yaml = (lines: string[]) => `${lines.join("\n")}\n`;

/** Runs the tasks two at a time. */
async function inPairs(tasks: (() => Promise<void>)[]): Promise<void> {
  const queue = [...tasks];
  const worker = async () => {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) await task();
  };
  await Promise.all([worker(), worker()]);
}

describe("scenario 13: hostile topology files and CLI arguments", () => {
  it("refuses each hostile file with exit 1 and a clear message, and the broker stays untouched", async () => {
    await withVhost(async (vhost) => {
      const before = await objectsOf(vhost.name);
      const cases: [string, string | Buffer, RegExp | string][] = [
        ["alias-bomb.yaml", aliasBomb(), "a YAML alias bomb?"],
        ["deep.json", `${"[".repeat(100_000)}${"]".repeat(100_000)}`, "nested too deeply to read"],
        [
          "deep.yaml",
          `a: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`,
          "nested too deeply to read",
        ],
        [
          "binary.yaml",
          Buffer.from([0, 1, 2, 0xff, 0xfe, 0xc3, 0x28, 10, 58, 32]),
          "not valid YAML",
        ],
        [
          "proto.yaml",
          yaml(["exchanges:", "  __proto__: { type: topic }"]),
          '"__proto__" cannot be used as a name',
        ],
        [
          "constructor.json",
          '{"queues": {"constructor": {"prototype": {"polluted": true}}}}',
          'unknown key "prototype"',
        ],
        [
          "nested-unset.yaml",
          yaml(["queues:", "  ${TEAM:-${UNIT}}.work: {}"]),
          "environment variable UNIT is not set",
        ],
        [
          "unterminated.yaml",
          yaml(["queues:", '  "${TEAM:-${UNIT}.work": {}']),
          "is not a valid variable",
        ],
        [
          "duplicate.yaml",
          yaml(["exchanges:", "  a: { type: topic }", "  a: { type: fanout }"]),
          "Map keys must be unique",
        ],
        ["long-name.yaml", yaml(["queues:", `  ${"q".repeat(300)}: {}`]), /queues\.q+/],
        ["empty.yaml", "", "the file is empty"],
      ];
      // Independent runs, two at a time (the machine has two cores).
      await inPairs(
        cases.map(([name, text, message]) => async () => {
          const path = await file(name, text);
          const run = await cli(name, ["topology", "apply", path, ...flags(vhost.name)], {
            TEAM: "",
            UNIT: "",
          });
          expectClearFailure(run, message);
          expect(run.ms, `${name} time`).toBeLessThan(120_000);
          expect(run.maxRssMb, `${name} memory`).toBeLessThan(512);
        }),
      );
      expect(await objectsOf(vhost.name)).toEqual(before);
      // Nothing leaked into the prototype of a plain object of the CLI either:
      // the process exits 1 before declaring anything, and this process is clean.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }, 600_000);

  it(`reads a ${bigMb} MB file in linear time and refuses its one bad binding at the end`, async () => {
    await withVhost(async (vhost) => {
      const before = await objectsOf(vhost.name);
      const { text, queues } = bigTopology(bigMb * 1024 * 1024);
      const path = await file("big.yaml", `${text}  last: { bindings: [{ exchange: missing }] }\n`);
      const run = await cli(`${bigMb} MB file (${queues} queues)`, [
        "topology",
        "apply",
        path,
        ...flags(vhost.name),
      ]);
      expectClearFailure(run, 'queues.last.bindings[0]: exchange "missing" is not declared');
      expect(await objectsOf(vhost.name)).toEqual(before);
    });
  }, 600_000);

  it("refuses hostile arguments with exit 1 and a clear message, touching nothing", async () => {
    const name = randomName("q");
    const path = await file("one.yaml", yaml(["queues:", `  ${name}: {}`]));
    const { url, managementUrl } = brokerUrls();
    const cases: [string, string[], RegExp | string][] = [
      [
        '--vhost ""',
        ["topology", "apply", path, "--vhost", "", "--url", url, "--management-url", managementUrl],
        "--vhost cannot be empty",
      ],
      [
        "--url not a URL",
        ["topology", "apply", path, "--url", "not a url", "--management-url", managementUrl],
        /url/i,
      ],
      ["unknown flag", ["topology", "apply", path, "--force-delete-everything"], "Unknown option"],
      [
        "directory as file",
        ["topology", "apply", dir, "--url", url, "--management-url", managementUrl],
        "cannot read the topology file",
      ],
      [
        "missing file",
        [
          "topology",
          "apply",
          join(dir, "nope.yaml"),
          "--url",
          url,
          "--management-url",
          managementUrl,
        ],
        "topology file not found",
      ],
      ["extra argument", ["topology", "apply", path, path], "unexpected argument"],
    ];
    await inPairs(
      cases.map(([label, args, message]) => async () => {
        expectClearFailure(await cli(label, args), message);
      }),
    );
    // `--vhost ""` did not fall back to the default vhost "/".
    const queues = await management<{ name: string }[]>("/api/queues/%2F");
    expect(queues.map((q) => q.name)).not.toContain(name);
  }, 300_000);
});

describe("documented results for inputs that are valid but surprising", () => {
  it("declares a queue named 007 as 007, not 7", async () => {
    await withVhost(async (vhost) => {
      const path = await file("numeric.yaml", yaml(["queues:", "  007: {}", "  7: {}"]));
      const run = await cli("keys like 007", ["topology", "apply", path, ...flags(vhost.name)]);
      expect(run.code, run.stderr).toBe(0);
      const names = (await objectsOf(vhost.name)).filter((n) => n.startsWith("queue "));
      expect(names).toEqual(expect.arrayContaining(["queue 007", "queue 7", "queue 007.dlq"]));
    });
  }, 120_000);

  it("resolves a nested default ${A:-${B}} when B is set", async () => {
    const path = await file("nested.yaml", yaml(["queues:", "  ${TEAM:-${UNIT}}.work: {}"]));
    const run = await cli("nested default", ["topology", "validate", path, "--json"], {
      TEAM: "",
      UNIT: "billing",
    });
    expect(run.code, run.stderr).toBe(0);
    const export_ = await cli("nested default export", ["topology", "export", path], {
      TEAM: "",
      UNIT: "billing",
    });
    expect(export_.stdout).toContain('"name": "billing.work"');
  }, 120_000);

  it("exits 0 without a stack trace when its output is piped into head (EPIPE)", async () => {
    const { text } = bigTopology(512 * 1024);
    const path = await file("export.yaml", text);
    const started = performance.now();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
      (resolve) => {
        const child = spawn(process.execPath, ["src/cli/run.ts", "topology", "export", path], {
          cwd: repoRoot,
          stdio: ["ignore", "pipe", "pipe"],
        });
        let err = "";
        child.stderr.on("data", (chunk: Buffer) => {
          err += chunk.toString();
        });
        // Like `head -c 100`: read a little, then close the pipe.
        child.stdout.once("data", () => child.stdout.destroy());
        child.on("exit", (exitCode) => resolve({ code: exitCode, stderr: err }));
      },
    );
    figures.push({
      name: "export | head (EPIPE)",
      code,
      ms: Math.round(performance.now() - started),
      maxRssMb: 0,
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
  }, 120_000);
});
