/**
 * The JSON Schema of the topology file, for editors (completion and checks
 * while typing). It is generated from {@link topologySchema}, so it cannot
 * drift from what `loadTopology` accepts; it checks the shape of the file
 * only, the cross-reference rules run in warren itself.
 */
import { z } from "zod";
import { DURATION_JSON_SCHEMA, durationSchema, topologySchema } from "./schema.ts";

/** The JSON Schema (draft 2020-12) of a topology file as written. */
export function topologyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(topologySchema, {
    io: "input",
    override: (ctx) => {
      if (ctx.zodSchema === durationSchema) {
        for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
        Object.assign(ctx.jsonSchema, structuredClone(DURATION_JSON_SCHEMA));
      }
    },
  }) as Record<string, unknown>;
  const properties = schema.properties as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: "warren topology",
    description: "Exchanges and queues of a RabbitMQ vhost, for warren (docs/topology.md).",
    ...schema,
    properties: {
      $schema: { type: "string", description: "JSON Schema reference for editors; ignored." },
      ...properties,
    },
  };
}

/** The JSON Schema as a file's text (stable key order, trailing newline). */
export function topologyJsonSchemaText(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}
