import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// Every relative link in README.md and docs/*.md, and every
// `docs/<page>.md#<section>` a comment in src/ or test/ cites, points at a
// file that exists and, when it names a section, at a heading of that file.
// A renamed heading or page then fails here instead of leaving a dead link.
const root = join(import.meta.dirname, "../../..");

/** Text outside fenced code blocks, where a `#` line is code, not a heading. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to dashes. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = (heading as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

async function markdownPages(): Promise<string[]> {
  const docs = (await readdir(join(root, "docs")))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(root, "docs", name));
  return [join(root, "README.md"), ...docs];
}

async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of ["src", "test", "bench"]) {
    const entries = await readdir(join(root, dir), { withFileTypes: true, recursive: true });
    for (const entry of entries) {
      if (entry.isFile() && entry.name.endsWith(".ts")) {
        files.push(join(entry.parentPath, entry.name));
      }
    }
  }
  return files;
}

/** Why `target` (a path, optionally `#anchor`, relative to `fromDir`) does not resolve, or undefined. */
async function brokenReason(fromDir: string, target: string): Promise<string | undefined> {
  const [path = "", anchor] = target.split("#");
  const file = path === "" ? undefined : join(fromDir, decodeURIComponent(path));
  if (file !== undefined && !existsSync(file)) return "no such file";
  if (anchor === undefined || anchor === "") return undefined;
  if (file === undefined || !file.endsWith(".md")) return undefined;
  const anchors = headingAnchors(await readFile(file, "utf8"));
  return anchors.has(anchor) ? undefined : `no heading #${anchor} in ${relative(root, file)}`;
}

describe("links in the docs", () => {
  it("turns headings into GitHub's anchors", () => {
    const anchors = headingAnchors(
      '# The `warren` CLI\n## Exit codes\n```sh\n# not a heading\n```\n## Exit codes\n## What "exactly once" covers, and what it does not\n',
    );
    expect([...anchors]).toEqual([
      "the-warren-cli",
      "exit-codes",
      "exit-codes-1",
      "what-exactly-once-covers-and-what-it-does-not",
    ]);
  });

  it("finds every relative link of README.md and docs/*.md, with its section", async () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of await markdownPages()) {
      const text = prose(await readFile(page, "utf8")).replace(/`[^`\n]*`/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z]+:/i.test(target as string)) continue; // http:, https:, mailto:
        checked++;
        const reason = await brokenReason(dirname(page), target as string);
        if (reason !== undefined) broken.push(`${relative(root, page)}: (${target}) ${reason}`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it("cites no design file from outside the repository", async () => {
    // The contracts live in docs/architecture.md; a "DESIGN.md §N" reference
    // (a file that is not in this repository) cannot be followed by a reader.
    const outside: string[] = [];
    const self = join(import.meta.dirname, "links.test.ts");
    const files = [...(await markdownPages()), ...(await sourceFiles())];
    for (const file of files.filter((f) => f !== self)) {
      const text = await readFile(file, "utf8");
      if (text.includes("DESIGN.md")) outside.push(relative(root, file));
    }
    expect(outside).toEqual([]);
  });

  it("finds the section of every docs page a comment in src/, test/ or bench/ cites", async () => {
    const broken: string[] = [];
    for (const file of await sourceFiles()) {
      const text = await readFile(file, "utf8");
      for (const [, target] of text.matchAll(/\bdocs\/([a-z0-9-]+\.md(?:#[a-z0-9-]+)?)/g)) {
        const reason = await brokenReason(join(root, "docs"), target as string);
        if (reason !== undefined) broken.push(`${relative(root, file)}: docs/${target} ${reason}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
