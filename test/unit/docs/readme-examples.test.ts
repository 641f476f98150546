import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Every TypeScript block of README.md and docs/*.md is a copy of a file that
// `npm run typecheck` compiles against the real API (tsconfig.json includes
// examples/ and test/). The block is marked `<!-- example: <file> -->` on the
// line above it; this test keeps block and file identical, and fails on a
// TypeScript block without a marker, so no page can show code that does not
// compile. In examples/, files import "../src/index.ts" and
// "../src/testing/index.ts"; the page shows "warren" and "warren/testing".
const root = join(import.meta.dirname, "../../..");

interface CodeBlock {
  page: string;
  line: number;
  language: string;
  /** The file named by the marker above the block, if any. */
  file: string | undefined;
  code: string;
}

function codeBlocks(page: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const pattern = /(?:<!-- example: (\S+) -->\n)?^```(\w*)[^\n]*\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(pattern)) {
    blocks.push({
      page,
      line: markdown.slice(0, match.index).split("\n").length,
      file: match[1],
      language: match[2] ?? "",
      code: match[3] ?? "",
    });
  }
  return blocks;
}

const pages = [
  "README.md",
  ...(await readdir(join(root, "docs")))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];
const blocks: CodeBlock[] = [];
for (const page of pages)
  blocks.push(...codeBlocks(page, await readFile(join(root, page), "utf8")));
const typescript = blocks.filter((b) => ["ts", "typescript", "tsx"].includes(b.language));

describe("TypeScript in README.md and docs/", () => {
  it("finds the blocks, in the README and in docs/", () => {
    expect(typescript.filter((b) => b.page === "README.md").length).toBeGreaterThanOrEqual(2);
    expect(typescript.filter((b) => b.page.startsWith("docs/")).length).toBeGreaterThanOrEqual(10);
  });

  it("marks every block with the file the typecheck compiles", () => {
    const unmarked = typescript
      .filter((b) => b.file === undefined)
      .map((b) => `${b.page}:${b.line}`);
    expect(unmarked).toEqual([]);
  });

  for (const block of typescript.filter((b) => b.file !== undefined)) {
    it(`${block.page}:${block.line} shows ${block.file} exactly`, async () => {
      const file = block.file as string;
      expect(file.startsWith("examples/") || file.startsWith("test/"), "typechecked path").toBe(
        true,
      );
      const source = await readFile(join(root, file), "utf8");
      expect(block.code).toBe(
        source
          .replaceAll('"../src/index.ts"', '"warren"')
          .replaceAll('"../src/testing/index.ts"', '"warren/testing"'),
      );
    });
  }
});
