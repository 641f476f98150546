/**
 * `warren topology validate|plan|apply|export <file>`: each parses its flags
 * into the library's options, calls one public function and prints the
 * result. Exit codes (docs/architecture.md#cli-exit-codes): 0 ok / no changes, 1 error, 2 changes
 * pending (plan, apply --dry-run) or conflicts refused (apply).
 */
import { writeFile } from "node:fs/promises";
import { applyTopology, planAgainstBroker } from "../topology/apply.ts";
import { compileTopology } from "../topology/compile.ts";
import { exportDefinitions } from "../topology/export.ts";
import { loadTopology } from "../topology/load.ts";
import type { CompiledTopology } from "../topology/model.ts";
import type { Plan, PlanStep } from "../topology/plan.ts";
import {
  type Command,
  type CommandContext,
  type CommandGroup,
  endpointOptions,
  stringFlag,
  UsageError,
  vhostFlag,
} from "./command.ts";
import { type Output, table } from "./output.ts";

async function compiledFrom(context: CommandContext): Promise<CompiledTopology> {
  const file = context.positionals[0]!;
  const topology = await loadTopology(file, { env: context.io.env });
  return compileTopology(topology);
}

function targetOptions(context: CommandContext) {
  const options = endpointOptions(context.values, context.io.env);
  const vhost = vhostFlag(context.values);
  return vhost === undefined ? options : { ...options, vhost };
}

function stepJson(step: PlanStep) {
  return {
    kind: step.kind,
    name: step.name,
    status: step.status,
    detail: step.detail,
    differences: step.differences,
    ...(step.kind === "queue" && step.messages !== undefined ? { messages: step.messages } : {}),
  };
}

function planJson(plan: Plan) {
  return {
    vhost: plan.vhost,
    hasChanges: plan.hasChanges,
    hasConflicts: plan.hasConflicts,
    summary: plan.summary,
    steps: plan.steps.map(stepJson),
  };
}

function printPlan(out: Output, plan: Plan): void {
  out.line(`Plan for vhost "${plan.vhost}":`);
  out.line();
  for (const line of table(
    ["KIND", "NAME", "STATUS", "DETAIL"],
    plan.steps.map((s) => [s.kind, s.name, s.status, s.detail]),
  )) {
    out.line(line);
  }
  const { create, unchanged, conflict, notDeclared } = plan.summary;
  out.line();
  out.line(
    `${create} to create, ${unchanged} unchanged, ${conflict} conflict${conflict === 1 ? "" : "s"}, ${notDeclared} not declared.`,
  );
}

const validate: Command = {
  summary: "check a topology file (no broker needed)",
  usage: "<file>",
  help: [],
  positionals: ["file"],
  options: {},
  // Reads only the file: a broker flag would do nothing.
  globals: [],
  async run(context: CommandContext): Promise<number> {
    const compiled = await compiledFrom(context);
    const file = context.positionals[0]!;
    context.out.result({ ok: true, file, topology: compiled });
    context.out.line(
      `${file} is valid: vhost "${compiled.vhost}", ${compiled.exchanges.length} exchanges, ${compiled.queues.length} queues (with retry tiers and dead-letter queues), ${compiled.bindings.length} bindings.`,
    );
    return 0;
  },
};

const plan: Command = {
  summary: "compare a topology file with the live broker",
  usage: "<file>",
  help: [],
  positionals: ["file"],
  options: {},
  async run(context: CommandContext): Promise<number> {
    const compiled = await compiledFrom(context);
    const result = await planAgainstBroker(compiled, targetOptions(context));
    context.out.result({ ok: true, ...planJson(result) });
    printPlan(context.out, result);
    if (result.hasConflicts) {
      context.out.line("Conflicts must be resolved by hand; apply will refuse until they are.");
    } else if (result.hasChanges) {
      context.out.line(`Run \`warren topology apply ${context.positionals[0]}\` to create them.`);
    } else {
      context.out.line("No changes: the broker matches the file.");
    }
    return result.hasChanges || result.hasConflicts ? 2 : 0;
  },
};

const apply: Command = {
  summary: "declare a topology file's objects on the broker (never deletes)",
  usage: "<file> [--dry-run]",
  help: [
    "--dry-run                   print the plan, declare nothing (exit 2 when changes are pending)",
  ],
  positionals: ["file"],
  options: { "dry-run": { type: "boolean" } },
  async run(context: CommandContext): Promise<number> {
    const compiled = await compiledFrom(context);
    const dryRun = context.values["dry-run"] === true;
    const result = await applyTopology(compiled, { ...targetOptions(context), dryRun });
    context.out.result({
      ok: true,
      vhost: result.vhost,
      dryRun,
      changed: result.changed,
      created: result.created.map(stepJson),
      unchanged: result.unchanged.map(stepJson),
      notDeclared: result.notDeclared.map(stepJson),
    });
    printPlan(context.out, result.plan);
    const count = result.created.length;
    const objects = `${count} object${count === 1 ? "" : "s"}`;
    if (!result.changed) {
      context.out.line(`No changes: vhost "${result.vhost}" already matches the file.`);
    } else if (dryRun) {
      context.out.line(`Dry run: nothing declared; apply would create ${objects}.`);
    } else {
      context.out.line(`Created ${objects} in vhost "${result.vhost}".`);
    }
    return dryRun && result.changed ? 2 : 0;
  },
};

const exportCommand: Command = {
  summary: "write the topology as RabbitMQ definitions JSON",
  usage: "<file> [--format definitions] [--output <file>]",
  help: [
    "--format definitions        output format (only `definitions`: rabbitmqctl import_definitions, POST /api/definitions)",
    "--output <file>             write to a file instead of stdout",
  ],
  positionals: ["file"],
  options: { format: { type: "string" }, output: { type: "string", short: "o" } },
  // Writes definitions from the file alone; only --vhost changes them.
  globals: ["vhost"],
  async run(context: CommandContext): Promise<number> {
    const format = stringFlag(context.values, "format") ?? "definitions";
    if (format !== "definitions") {
      throw new UsageError(`unknown --format "${format}"; supported: definitions`);
    }
    const compiled = await compiledFrom(context);
    const vhost = vhostFlag(context.values);
    const definitions = exportDefinitions(vhost === undefined ? compiled : { ...compiled, vhost });
    const document = `${JSON.stringify(definitions, null, 2)}\n`;
    const output = stringFlag(context.values, "output");
    if (output === undefined) {
      context.out.raw(document);
      return 0;
    }
    await writeFile(output, document);
    context.out.result({
      ok: true,
      output,
      vhost: definitions.vhosts[0]?.name,
      exchanges: definitions.exchanges.length,
      queues: definitions.queues.length,
      bindings: definitions.bindings.length,
    });
    context.out.line(
      `Wrote definitions for vhost "${definitions.vhosts[0]?.name}" (${definitions.exchanges.length} exchanges, ${definitions.queues.length} queues, ${definitions.bindings.length} bindings) to ${output}.`,
    );
    return 0;
  },
};

/** The `warren topology` command group. */
export const topologyCommands: CommandGroup = {
  validate,
  plan,
  apply,
  export: exportCommand,
};
