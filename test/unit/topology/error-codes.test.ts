import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { TOPOLOGY_LOAD_ERROR_CODES } from "../../../src/topology/load.ts";

it("documents every topology loading error code in docs/errors.md", async () => {
  const doc = await readFile("docs/errors.md", "utf8");
  const headings = new Set([...doc.matchAll(/^## (WARREN_[A-Z_]+)$/gm)].map((m) => m[1]));
  for (const code of Object.values(TOPOLOGY_LOAD_ERROR_CODES)) {
    expect(headings, `docs/errors.md has no "## ${code}" section`).toContain(code);
  }
});
