import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { topologyJsonSchema, topologyJsonSchemaText } from "../../../src/topology/json-schema.ts";

describe("topology JSON Schema", () => {
  it("matches the committed copy (run `node scripts/emit-json-schema.ts` when it changes)", async () => {
    const committed = await readFile("topology/topology.schema.json", "utf8");
    expect(committed).toBe(topologyJsonSchemaText());
  });

  it("describes durations as integer milliseconds or strings with a unit", () => {
    const schema = topologyJsonSchema() as { $defs: Record<string, unknown> };
    expect(schema.$defs.duration).toEqual({
      description:
        "A duration: integer milliseconds, or an integer with a unit: 500ms, 10s, 5m, 1h.",
      anyOf: [
        { type: "integer", minimum: 0 },
        { type: "string", pattern: "^\\d+(ms|s|m|h)$" },
      ],
    });
  });

  it("lets editors flag unknown keys and accept a $schema reference", () => {
    const schema = topologyJsonSchema() as {
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(["$schema", "vhost", "exchanges", "queues"]);
  });
});
