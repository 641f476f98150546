import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, ErrorCode } from "../../../src/errors.ts";

// The code map in src/errors.ts is the one list of codes. Every code in it
// has an entry in docs/errors.md and every entry there is in the map; every
// code is thrown somewhere (named through the ErrorCode constants), and no
// file spells a code as a string literal instead of using the constant.
const root = join(import.meta.dirname, "../../..");

async function sourceFiles(): Promise<Map<string, string>> {
  const dir = join(root, "src");
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path.slice(root.length + 1), await readFile(path, "utf8"));
  }
  return files;
}

async function codesInDocs(): Promise<string[]> {
  const text = await readFile(join(root, "docs/errors.md"), "utf8");
  return [...text.matchAll(/^## (WARREN_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1] as string);
}

describe("the error-code map and docs/errors.md", () => {
  const codes = Object.keys(ERROR_CODES);

  it("documents every code of the map", async () => {
    const documented = new Set(await codesInDocs());
    expect(codes.filter((code) => !documented.has(code))).toEqual([]);
  });

  it("documents no code that the map does not have, and none twice", async () => {
    const documented = await codesInDocs();
    expect(documented.filter((code) => !(code in ERROR_CODES))).toEqual([]);
    expect(documented.length).toBe(new Set(documented).size);
  });

  it("has a constant per code, equal to its name", () => {
    for (const code of codes) expect(ErrorCode[code as keyof typeof ErrorCode]).toBe(code);
  });

  it("uses every code somewhere in src/", async () => {
    const text = [...(await sourceFiles())]
      .filter(([path]) => path !== "src/errors.ts")
      .map(([, content]) => content)
      .join("\n");
    expect(codes.filter((code) => !text.includes(`ErrorCode.${code}`))).toEqual([]);
  });

  it("spells no code as a string literal outside src/errors.ts", async () => {
    const literals: string[] = [];
    for (const [path, content] of await sourceFiles()) {
      if (path === "src/errors.ts") continue;
      for (const match of content.matchAll(/["'](WARREN_[A-Z0-9_]+)["']/g)) {
        literals.push(`${path}: ${match[1]}`);
      }
    }
    expect(literals).toEqual([]);
  });
});
