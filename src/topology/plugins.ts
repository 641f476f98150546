/**
 * Broker plugins a topology needs. Today one: a partitioned queue's hash
 * exchange is of type `x-consistent-hash`, which exists only while the
 * `rabbitmq_consistent_hash_exchange` plugin is enabled. Without it the
 * broker refuses `exchange.declare` with a bare "invalid exchange type",
 * after apply may already have declared other objects; checking the
 * broker's exchange types first stops `plan` and `apply` before anything is
 * declared, with the command that fixes it.
 */
import { ErrorCode, TopologyError } from "../errors.ts";
import type { ManagementClient } from "../management/client.ts";
import type { CompiledTopology } from "./model.ts";
import { CONSISTENT_HASH_EXCHANGE_TYPE, CONSISTENT_HASH_PLUGIN } from "./partitions.ts";

/** Exchange types a plugin provides, and the plugin. */
const PLUGIN_EXCHANGE_TYPES: Readonly<Record<string, string>> = Object.freeze({
  [CONSISTENT_HASH_EXCHANGE_TYPE]: CONSISTENT_HASH_PLUGIN,
});

/** The plugins `compiled` needs, each with the exchanges that need it. */
export function requiredPlugins(compiled: CompiledTopology): Map<string, string[]> {
  const plugins = new Map<string, string[]>();
  for (const exchange of compiled.exchanges) {
    const plugin = PLUGIN_EXCHANGE_TYPES[exchange.type];
    if (plugin === undefined) continue;
    plugins.set(plugin, [...(plugins.get(plugin) ?? []), exchange.name]);
  }
  return plugins;
}

/**
 * The error for plugins whose exchange types `available` lacks, or
 * undefined when every one is there. Pure.
 */
export function missingPluginError(
  compiled: CompiledTopology,
  available: readonly string[],
): TopologyError | undefined {
  const missing = [...requiredPlugins(compiled)].filter(([plugin]) => {
    const types = Object.entries(PLUGIN_EXCHANGE_TYPES)
      .filter(([, p]) => p === plugin)
      .map(([type]) => type);
    return !types.every((type) => available.includes(type));
  });
  if (missing.length === 0) return undefined;
  const lines = missing.map(
    ([plugin, exchanges]) =>
      `  ${plugin} (needed by ${exchanges.map((e) => JSON.stringify(e)).join(", ")}): run \`rabbitmq-plugins enable ${plugin}\` on every node`,
  );
  return new TopologyError(
    ErrorCode.WARREN_TOPOLOGY_PLUGIN_MISSING,
    `the broker lacks ${missing.length === 1 ? "a plugin" : "plugins"} this topology needs; nothing was declared\n${lines.join("\n")}`,
    {
      issues: missing.map(([plugin, exchanges]) => ({
        path: `exchanges.${JSON.stringify(exchanges[0])}`,
        message: `rabbitmq-plugins enable ${plugin}`,
      })),
    },
  );
}

/**
 * Throws `WARREN_TOPOLOGY_PLUGIN_MISSING` when the broker behind
 * `management` lacks a plugin `compiled` needs. Asks the broker only when
 * some plugin is needed.
 */
export async function checkPlugins(
  compiled: CompiledTopology,
  management: ManagementClient,
): Promise<void> {
  if (requiredPlugins(compiled).size === 0) return;
  const error = missingPluginError(compiled, await management.exchangeTypes());
  if (error !== undefined) throw error;
}
