/**
 * The `warren` command line: a dispatch table of command groups
 * (`warren <group> <command> [args] [flags]`). Each command parses its flags
 * into the options of a public library function and calls it; this file only
 * finds the command, parses argv strictly, and turns failures into one
 * readable line and an exit code:
 *
 * - 0: ok, no changes
 * - 1: error (bad input, unreachable broker, usage)
 * - 2: changes pending (plan) or conflicts refused (apply)
 *
 * Exit codes are chosen from the error's class and code constant
 * ({@link exitCodeFor}), never from its message.
 *
 * To add a group (e.g. `dlq`), add its {@link CommandGroup} to `groups`.
 */

import { readFileSync } from "node:fs";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { ErrorCode, TopologyError, WarrenError } from "../errors.ts";
import {
  brokerFlags,
  type Command,
  type CommandGroup,
  type FlagValues,
  globalHelp,
  globalHelpFor,
  globalOptions,
  ignoredGlobals,
  secretUrls,
  UsageError,
} from "./command.ts";
import { dlqCommands } from "./dlq.ts";
import { type CliIo, Output, processIo } from "./output.ts";
import { statusCommand } from "./status.ts";
import { topologyCommands } from "./topology.ts";
import { workerCommand } from "./worker.ts";

/** Command groups by name. */
export const groups: Record<string, CommandGroup> = {
  topology: topologyCommands,
  dlq: dlqCommands,
};

/** Commands without a group (`warren status`, `warren worker`). */
export const commands: Record<string, Command> = {
  status: statusCommand,
  worker: workerCommand,
};

/** Exit codes (docs/architecture.md#cli-exit-codes). */
export const exitCodes = Object.freeze({ ok: 0, error: 1, pending: 2 });

function usageError(message: string): WarrenError {
  return new WarrenError(ErrorCode.WARREN_CLI_USAGE, message);
}

/**
 * The exit code of a failed command: 2 for an apply refused because of
 * conflicts (the file and the broker disagree; nothing was declared), 1 for
 * every other error.
 */
export function exitCodeFor(error: unknown): number {
  return error instanceof TopologyError && error.code === ErrorCode.WARREN_TOPOLOGY_CONFLICT
    ? exitCodes.pending
    : exitCodes.error;
}

/** The package's version, read from its package.json (two levels up in src/ and dist/ alike). */
export function packageVersion(): string {
  const file = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

function usage(): string {
  const lines = ["Usage: warren <command> [options]", "", "Commands:"];
  for (const [name, command] of Object.entries(commands)) {
    lines.push(`  ${`${name} ${command.usage}`.padEnd(56)} ${command.summary}`);
  }
  for (const [groupName, group] of Object.entries(groups)) {
    for (const [name, command] of Object.entries(group)) {
      lines.push(`  ${`${groupName} ${name} ${command.usage}`.padEnd(56)} ${command.summary}`);
    }
  }
  lines.push(
    "",
    "Options:",
    ...globalHelp.map((l) => `  ${l}`),
    `  ${"--version".padEnd(28)}print the version of warren`,
  );
  lines.push(
    "",
    "Exit codes: 0 ok / no changes, 1 error, 2 changes pending (plan), conflicts (apply) or problems (status).",
  );
  return lines.join("\n");
}

function commandUsage(groupName: string, name: string | undefined, command: Command): string {
  return [
    `Usage: warren ${groupName}${name === undefined ? "" : ` ${name}`} ${command.usage}`,
    "",
    command.summary,
    "",
    "Options:",
    ...[...command.help, ...globalHelpFor(command)].map((l) => `  ${l}`),
  ].join("\n");
}

function allOptions(): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = { ...globalOptions, version: { type: "boolean" } };
  for (const group of Object.values(groups)) {
    for (const command of Object.values(group)) Object.assign(options, command.options);
  }
  for (const command of Object.values(commands)) Object.assign(options, command.options);
  return options;
}

/**
 * Runs the CLI with `argv` (without the node and script paths) and resolves
 * to the process exit code. Never throws and never exits the process.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  // First pass, lenient: find the command among the positionals, knowing
  // every flag so that flag values are not mistaken for positionals.
  const loose = parseArgs({
    args: argv,
    options: allOptions(),
    strict: false,
    allowPositionals: true,
  });
  const looseValues = loose.values as FlagValues;
  const out = new Output(io, looseValues.json === true, secretUrls(looseValues, io.env));
  const [groupName, commandName] = loose.positionals;
  const single = groupName === undefined ? undefined : commands[groupName];
  if (single !== undefined && groupName !== undefined) {
    return runCommand(argv, io, out, looseValues, groupName, undefined, single);
  }

  const group = groupName === undefined ? undefined : groups[groupName];
  if (group === undefined) {
    if (groupName === undefined && looseValues.help === true) {
      io.stdout(`${usage()}\n`);
      return exitCodes.ok;
    }
    if (groupName === undefined && looseValues.version === true) {
      io.stdout(`${packageVersion()}\n`);
      return exitCodes.ok;
    }
    out.failure(
      usageError(groupName === undefined ? "no command given" : `unknown command "${groupName}"`),
    );
    out.error(usage());
    return exitCodes.error;
  }
  const command = commandName === undefined ? undefined : group[commandName];
  if (command === undefined || commandName === undefined) {
    out.failure(
      usageError(
        commandName === undefined
          ? `"${groupName}" needs a command: ${Object.keys(group).join(", ")}`
          : `unknown command "${groupName} ${commandName}"; known: ${Object.keys(group).join(", ")}`,
      ),
    );
    out.error(usage());
    return exitCodes.error;
  }
  return runCommand(argv, io, out, looseValues, groupName!, commandName, command);
}

async function runCommand(
  argv: string[],
  io: CliIo,
  out: Output,
  looseValues: FlagValues,
  groupName: string,
  commandName: string | undefined,
  command: Command,
): Promise<number> {
  if (looseValues.help === true) {
    io.stdout(`${commandUsage(groupName, commandName, command)}\n`);
    return exitCodes.ok;
  }

  let values: FlagValues;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...globalOptions, ...command.options },
      strict: true,
      allowPositionals: true,
    });
    values = parsed.values as FlagValues;
    positionals = parsed.positionals.slice(commandName === undefined ? 1 : 2);
  } catch (error) {
    out.failure(usageError((error as Error).message));
    out.error(commandUsage(groupName, commandName, command));
    return exitCodes.error;
  }
  const ignored = ignoredGlobals(command, values);
  if (ignored.length > 0) {
    const flags = ignored.map((flag) => `--${flag}`).join(", ");
    const name = commandName === undefined ? groupName : `${groupName} ${commandName}`;
    const noBroker = (command.globals ?? []).some((flag) => brokerFlags.includes(flag))
      ? ""
      : " (this command does not contact the broker)";
    out.failure(
      usageError(
        `${flags} ${ignored.length === 1 ? "has" : "have"} no effect on "warren ${name}": remove ${ignored.length === 1 ? "it" : "them"}${ignored.some((flag) => brokerFlags.includes(flag)) ? noBroker : ""}`,
      ),
    );
    out.error(commandUsage(groupName, commandName, command));
    return exitCodes.error;
  }
  const most = command.positionals.length + (command.optionalPositionals?.length ?? 0);
  if (positionals.length < command.positionals.length || positionals.length > most) {
    const expected = command.positionals.map((p) => `<${p}>`).join(" ");
    out.failure(
      new WarrenError(
        ErrorCode.WARREN_CLI_USAGE,
        positionals.length < command.positionals.length
          ? `missing argument: expected ${expected}`
          : `unexpected argument "${positionals[most]}"`,
      ),
    );
    out.error(commandUsage(groupName, commandName, command));
    return exitCodes.error;
  }

  try {
    return await command.run({ values, positionals, out, io });
  } catch (error) {
    if (error instanceof UsageError) {
      out.failure(usageError(error.message));
      return exitCodes.error;
    }
    out.failure(error);
    return exitCodeFor(error);
  }
}
