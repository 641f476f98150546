import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Every code thrown in src/ has an entry in docs/errors.md, and every entry
// there is still thrown somewhere: the catalogue cannot drift from the code.
const root = join(import.meta.dirname, "../../..");

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

async function codesInSource(): Promise<Set<string>> {
  const codes = new Set<string>();
  for (const file of await sourceFiles(join(root, "src"))) {
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/"(WARREN_[A-Z0-9_]+)"/g)) codes.add(match[1] as string);
  }
  return codes;
}

async function codesInDocs(): Promise<Set<string>> {
  const text = await readFile(join(root, "docs/errors.md"), "utf8");
  return new Set([...text.matchAll(/^## (WARREN_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1] as string));
}

describe("docs/errors.md", () => {
  it("documents every error code the source uses", async () => {
    const documented = await codesInDocs();
    const undocumented = [...(await codesInSource())].filter((code) => !documented.has(code));
    expect(undocumented).toEqual([]);
  });

  it("lists no code that the source no longer uses", async () => {
    const used = await codesInSource();
    const stale = [...(await codesInDocs())].filter((code) => !used.has(code));
    expect(stale).toEqual([]);
  });
});
