import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { observeTopology } from "../../../src/topology/observe.ts";
import { freshVhost, management, ordersFile, runCli } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("warren topology export", () => {
  it("writes definitions that, imported into an empty vhost, yield the same objects as apply", async () => {
    const applied = await freshVhost(false);
    const imported = await freshVhost();
    cleanups.push(applied.remove, imported.remove);
    const dir = await mkdtemp(join(tmpdir(), "warren-export-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const output = join(dir, "definitions.json");

    const exported = await runCli([
      "topology",
      "export",
      ordersFile,
      "--format",
      "definitions",
      "--output",
      output,
      "--vhost",
      imported.vhost,
    ]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(output);
    const definitions = JSON.parse(await readFile(output, "utf8"));
    expect(definitions.vhosts).toEqual([{ name: imported.vhost }]);

    const client = management();
    await client.importDefinitions(imported.vhost, definitions);
    expect((await runCli(["topology", "apply", ordersFile, "--vhost", applied.vhost])).code).toBe(
      0,
    );

    const normalise = async (vhost: string) => {
      const observed = await observeTopology(client, vhost);
      return {
        exchanges: observed.exchanges,
        queues: observed.queues.map(({ messages: _, ...q }) => q),
        bindings: observed.bindings.map((b) => JSON.stringify(b)).sort(),
      };
    };
    const fromImport = await normalise(imported.vhost);
    expect(fromImport.queues.length).toBeGreaterThan(0);
    expect(fromImport).toEqual(await normalise(applied.vhost));

    // And warren agrees: the imported vhost needs no changes.
    const plan = await runCli(["topology", "plan", ordersFile, "--vhost", imported.vhost]);
    expect(plan.code).toBe(0);
  });
});
