import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// README code blocks marked `<!-- example: examples/x.ts -->` are copies of
// files that the typecheck compiles against the real API. This keeps the copy
// and the file identical, so the README cannot show code that does not compile.
const root = join(import.meta.dirname, "../../..");

describe("README examples", async () => {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)];

  it("has examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  for (const [, file, code] of blocks) {
    it(`shows ${file} exactly, importing from "warren"`, async () => {
      const source = await readFile(join(root, file as string), "utf8");
      expect(code).toBe(source.replaceAll('"../src/index.ts"', '"warren"'));
    });
  }
});
