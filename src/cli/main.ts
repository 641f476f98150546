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
 * To add a group (e.g. `dlq`), add its {@link CommandGroup} to `groups`; a
 * command without subcommands (`status`, `worker`, `console`) is added as a
 * {@link Command}.
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
  isCommand,
  secretUrls,
  UsageError,
} from "./command.ts";
import { consoleCommand } from "./console.ts";
import { dlqCommands } from "./dlq.ts";
import { outboxCommands } from "./outbox.ts";
import { type CliIo, Output, processIo } from "./output.ts";
import { statusCommand } from "./status.ts";
import { topologyCommands } from "./topology.ts";
import { workerCommand } from "./worker.ts";

/** Command groups (and standalone commands) by name, in the order usage lists them. */
export const groups: Record<string, CommandGroup | Command> = {
  status: statusCommand,
  worker: workerCommand,
  topology: topologyCommands,
  dlq: dlqCommands,
  console: consoleCommand,
  outbox: outboxCommands,
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
  for (const [groupName, group] of Object.entries(groups)) {
    const commands = isCommand(group) ? [["", group] as const] : Object.entries(group);
    for (const [name, command] of commands) {
      const words = [groupName, name, command.usage].filter((w) => w !== "").join(" ");
      lines.push(`  ${words.padEnd(56)} ${command.summary}`);
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

function commandUsage(groupName: string, name: string, command: Command): string {
  const words = [groupName, name, command.usage].filter((w) => w !== "").join(" ");
  return [
    `Usage: warren ${words}`,
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
    const commands = isCommand(group) ? [group] : Object.values(group);
    for (const command of commands) Object.assign(options, command.options);
  }
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
  // A standalone command (`warren console [file]`) takes the words after its
  // name as its own arguments.
  const standalone = isCommand(group);
  const command = standalone ? group : commandName === undefined ? undefined : group[commandName];
  const name = standalone ? "" : commandName;
  if (command === undefined || name === undefined) {
    const known = standalone ? "" : Object.keys(group).join(", ");
    out.failure(
      usageError(
        commandName === undefined
          ? `"${groupName}" needs a command: ${known}`
          : `unknown command "${groupName} ${commandName}"; known: ${known}`,
      ),
    );
    out.error(usage());
    return exitCodes.error;
  }
  if (looseValues.help === true) {
    io.stdout(`${commandUsage(groupName!, name, command)}\n`);
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
    positionals = parsed.positionals.slice(standalone ? 1 : 2);
  } catch (error) {
    out.failure(usageError((error as Error).message));
    out.error(commandUsage(groupName!, name, command));
    return exitCodes.error;
  }
  const ignored = ignoredGlobals(command, values);
  if (ignored.length > 0) {
    const flags = ignored.map((flag) => `--${flag}`).join(", ");
    const words = [groupName, name].filter((w) => w !== "").join(" ");
    // A command that takes some broker flags does contact the broker: the
    // ignored ones are merely not used by it.
    const noBroker = (command.globals ?? []).some((flag) => brokerFlags.includes(flag))
      ? ""
      : " (this command does not contact the broker)";
    out.failure(
      usageError(
        `${flags} ${ignored.length === 1 ? "has" : "have"} no effect on "warren ${words}": remove ${ignored.length === 1 ? "it" : "them"}${ignored.some((flag) => brokerFlags.includes(flag)) ? noBroker : ""}`,
      ),
    );
    out.error(commandUsage(groupName!, name, command));
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
    out.error(commandUsage(groupName!, name, command));
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
