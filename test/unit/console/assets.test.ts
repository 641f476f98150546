import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The page shows message bodies, error messages and header values: anything
// a producer or a failing handler wrote. It must put them in the DOM as text
// only. The browser test proves it for hostile markup; this keeps the
// script from ever reaching for an HTML sink in the first place.
const assets = join(import.meta.dirname, "../../../src/console/assets");

describe("the console page's files", () => {
  it("the script uses no HTML sink (innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)", async () => {
    const source = await readFile(join(assets, "console.js"), "utf8");
    // Comments may name the sinks to say they are not used.
    const script = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    for (const sink of [
      "innerHTML",
      "outerHTML",
      "insertAdjacentHTML",
      "document.write",
      "eval(",
      "new Function",
      "createContextualFragment",
    ]) {
      expect(script, sink).not.toContain(sink);
    }
  });

  it("the page has no inline script or style and loads nothing from another origin", async () => {
    const html = await readFile(join(assets, "index.html"), "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style="|\son[a-z]+=/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
