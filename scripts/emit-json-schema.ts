/**
 * Writes the topology JSON Schema (generated from the zod schema) to
 * dist/topology.schema.json, which the package exports, and to
 * topology/topology.schema.json, which the example topology points editors
 * at. Run by `npm run build`; a unit test fails when the committed copy is stale.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { topologyJsonSchemaText } from "../src/topology/json-schema.ts";

const root = new URL("../", import.meta.url);
const text = topologyJsonSchemaText();
for (const target of ["dist/topology.schema.json", "topology/topology.schema.json"]) {
  const url = new URL(target, root);
  await mkdir(new URL("./", url), { recursive: true });
  await writeFile(url, text);
}
console.log("wrote dist/topology.schema.json and topology/topology.schema.json");
