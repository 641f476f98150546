/** Topology files as text, for the unit tests of the validator. */
import { TopologyError } from "../../src/errors.ts";
import { parseTopology } from "../../src/topology/load.ts";

/** A YAML document from its lines. */
export const yaml = (lines: string[]): string => `${lines.join("\n")}\n`;

/** The TopologyError that parsing `text` throws; fails the test when it parses. */
export function topologyRefusal(
  text: string,
  env: Record<string, string> = {},
  fileName = "t.yaml",
): TopologyError {
  try {
    parseTopology(text, { fileName, env });
  } catch (error) {
    if (error instanceof TopologyError) return error;
    throw error;
  }
  throw new Error("expected the topology to be refused");
}
