import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { topologySchema } from "/work/wt/hostile/src/topology/schema.ts";
import { TreeReader } from "/work/wt/hostile/src/topology/yaml-tree.ts";

for (const f of process.argv.slice(2)) {
  const text = readFileSync(f, "utf8");
  let t = performance.now();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  const a = performance.now() - t;
  t = performance.now();
  const tree = new TreeReader(doc, lc, {}, 1e9);
  const v = tree.read(doc.contents, []);
  const b = performance.now() - t;
  t = performance.now();
  const r = topologySchema.safeParse(v);
  const c = performance.now() - t;
  console.log(f, "parse", Math.round(a), "walk", Math.round(b), "zod", Math.round(c), r.success);
}
