/**
 * What a subcommand is to the dispatcher in main.ts, and the options every
 * subcommand shares (broker URLs, TLS files, --json). A command group (such
 * as `topology` or `dlq`) is a map from command name to {@link Command}.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import type { BrokerEndpointOptions } from "../connection/endpoint.ts";
import { endpointDefaults, resolveEndpoint, urlList } from "../connection/endpoint.ts";
import type { CliIo, Output } from "./output.ts";

/** Parsed flag values, as node:util parseArgs returns them. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  values: FlagValues;
  positionals: string[];
  out: Output;
  io: CliIo;
}

export interface Command {
  /** One line for the usage listing. */
  summary: string;
  /** Arguments after the command name, e.g. `<file> [--dry-run]`. */
  usage: string;
  /** Longer help: one line per command-specific flag. */
  help: string[];
  /** Names of the required positional arguments. */
  positionals: string[];
  /** Names of optional positional arguments, after the required ones. */
  optionalPositionals?: string[];
  /** Command-specific flags (the global ones are added by the dispatcher). */
  options: ParseArgsOptionsConfig;
  /**
   * The global flags this command acts on (`--json` and `--help` always
   * apply). Any other global flag given to it is refused rather than
   * silently ignored.
   * @default every global flag
   */
  globals?: readonly GlobalFlag[];
  /** Runs the command; resolves to the exit code. */
  run(context: CommandContext): Promise<number>;
}

export type CommandGroup = Record<string, Command>;

/** A group of subcommands (`warren dlq list`), or one command standing alone (`warren console`). */
export function isCommand(entry: CommandGroup | Command): entry is Command {
  return typeof (entry as Command).run === "function";
}

/** Flags every command accepts. */
export const globalOptions = {
  // Repeatable, and each value may hold several URLs separated by commas:
  // the nodes of a cluster, tried in order.
  url: { type: "string", multiple: true },
  "management-url": { type: "string", multiple: true },
  vhost: { type: "string" },
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  servername: { type: "string" },
  "timeout-ms": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

/** A global flag. */
export type GlobalFlag = keyof typeof globalOptions;

/** Global flags that name or reach the broker. */
export const brokerFlags: readonly GlobalFlag[] = [
  "url",
  "management-url",
  "ca",
  "cert",
  "key",
  "servername",
  "timeout-ms",
];

/**
 * Global flags of a command that holds a long-lived client (`connect()`):
 * the broker's URLs, the TLS files and the connect timeout. No management
 * API: such a command only speaks AMQP.
 */
export const amqpClientFlags: readonly GlobalFlag[] = [
  "url",
  "ca",
  "cert",
  "key",
  "servername",
  "timeout-ms",
];

/** Global flags every command accepts. */
export const alwaysAccepted: readonly GlobalFlag[] = ["json", "help"];

/**
 * Global flags given to `command` that it does not act on, e.g. `--url` for
 * `topology validate`, which needs no broker.
 */
export function ignoredGlobals(command: Command, values: FlagValues): GlobalFlag[] {
  const accepted = new Set<GlobalFlag>([...alwaysAccepted, ...(command.globals ?? [])]);
  if (command.globals === undefined) return [];
  return (Object.keys(globalOptions) as GlobalFlag[]).filter(
    (flag) => !accepted.has(flag) && values[flag] !== undefined,
  );
}

/** Help lines of the global flags `command` accepts. */
export function globalHelpFor(command: Command): string[] {
  if (command.globals === undefined) return globalHelp;
  const accepted = new Set<string>([...alwaysAccepted, ...command.globals]);
  const lines: string[] = [];
  let keep = false;
  for (const line of globalHelp) {
    const flag = /^(?:-\w, )?--([\w-]+)/.exec(line)?.[1];
    if (flag !== undefined) keep = accepted.has(flag);
    if (keep) lines.push(line);
  }
  return lines;
}

export const globalHelp = [
  "--url <amqp-url>            broker URL (default: $RABBITMQ_URL, else amqp://guest:guest@localhost:5672);",
  "                            for a cluster, repeat it or separate the nodes' URLs with commas: tried in order",
  "--management-url <url>      management API URL, repeatable or comma-separated like --url (default:",
  "                            $RABBITMQ_MANAGEMENT_URL when --url is not given, else each broker host",
  "                            on port 15672, or https on 15671 for amqps)",
  "--vhost <name>              vhost to act on (default: the URL's vhost, else the file's)",
  "--ca <file>                 PEM CA certificate for amqps/https",
  "--cert <file>               PEM client certificate (mutual TLS)",
  "--key <file>                PEM client key (mutual TLS)",
  "--servername <name>         TLS server name to verify, when it differs from the URL's host",
  "--timeout-ms <ms>           connect and request timeout (default 10000)",
  "--json                      machine-readable output on stdout",
  "-h, --help                  show help",
];

/**
 * Whether a command took over SIGINT (`warren worker` drains on it); run.ts
 * then leaves it alone instead of exiting with 130.
 */
export const processSignals = { owned: false };

/** A usage error: printed with the usage text, exit code 1. */
export class UsageError extends Error {}

/** The value of a string flag, if given. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * The URLs of a repeatable URL flag, commas split (`--url a --url b,c` is
 * `[a, b, c]`), or undefined when the flag is absent.
 */
export function urlsFlag(values: FlagValues, name: string): string[] | undefined {
  const value = values[name];
  const given = (Array.isArray(value) ? value : [value]).filter(
    (v): v is string => typeof v === "string",
  );
  return given.length === 0 ? undefined : urlList(given);
}

/** The broker URLs from --url or $RABBITMQ_URL (commas separate a cluster's nodes). */
export function brokerUrl(values: FlagValues, env: CliIo["env"]): string[] {
  return urlsFlag(values, "url") ?? urlList(env.RABBITMQ_URL ?? endpointDefaults.url);
}

/**
 * `--vhost`, refused when empty: an empty name would silently select the
 * broker's default vhost "/" (an AMQP URL with an empty path means "/").
 */
export function vhostFlag(values: FlagValues): string | undefined {
  const vhost = stringFlag(values, "vhost");
  if (vhost === "") {
    throw new UsageError('--vhost cannot be empty; name the vhost (the default one is "/")');
  }
  return vhost;
}

/** URLs whose passwords must be masked in every line of output. */
export function secretUrls(values: FlagValues, env: CliIo["env"]): string[] {
  return [
    ...(urlsFlag(values, "url") ?? []),
    ...(urlsFlag(values, "management-url") ?? []),
    ...urlList(env.RABBITMQ_URL ?? ""),
    ...urlList(env.RABBITMQ_MANAGEMENT_URL ?? ""),
    ...[stringFlag(values, "database-url"), env.DATABASE_URL].filter(
      (url): url is string => url !== undefined,
    ),
  ];
}

/** Builds the library's endpoint options from the global flags and the environment. */
export function endpointOptions(values: FlagValues, env: CliIo["env"]): BrokerEndpointOptions {
  const options: BrokerEndpointOptions = { url: brokerUrl(values, env) };
  // An explicit --url names another broker: the environment's management URL
  // belongs to the environment's broker, so it is only used without --url.
  const managementUrl =
    urlsFlag(values, "management-url") ??
    (urlsFlag(values, "url") === undefined && env.RABBITMQ_MANAGEMENT_URL !== undefined
      ? urlList(env.RABBITMQ_MANAGEMENT_URL)
      : undefined);
  if (managementUrl !== undefined) options.managementUrl = managementUrl;
  const tls: NonNullable<BrokerEndpointOptions["tls"]> = {};
  const ca = stringFlag(values, "ca");
  const cert = stringFlag(values, "cert");
  const key = stringFlag(values, "key");
  const servername = stringFlag(values, "servername");
  if (ca !== undefined) tls.caFile = ca;
  if (cert !== undefined) tls.certFile = cert;
  if (key !== undefined) tls.keyFile = key;
  if (servername !== undefined) tls.servername = servername;
  if (Object.keys(tls).length > 0) options.tls = tls;
  const timeout = stringFlag(values, "timeout-ms");
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (!Number.isInteger(ms) || ms <= 0) {
      throw new UsageError(
        `--timeout-ms must be a positive integer of milliseconds, got "${timeout}"`,
      );
    }
    options.timeoutMs = ms;
  }
  return options;
}

/** The part of `connect()`'s options that says where the broker is and how to reach it. */
export interface ClientEndpoint {
  url: string[];
  /** The TLS files of `--ca`, `--cert`, `--key` and `--servername`, read. */
  socketOptions?: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string };
  connectTimeoutMs: number;
}

/**
 * The broker URLs, TLS material and connect timeout for `connect()`, from
 * the same global flags (and environment) every other command reads, so
 * that `--ca` and friends mean the same everywhere. Throws
 * `WARREN_TLS_FILE_UNREADABLE` for a TLS file it cannot read.
 */
export async function clientEndpoint(
  values: FlagValues,
  env: CliIo["env"],
): Promise<ClientEndpoint> {
  const endpoint = await resolveEndpoint(endpointOptions(values, env));
  const options: ClientEndpoint = {
    url: [...endpoint.amqpUrls],
    connectTimeoutMs: endpoint.timeoutMs,
  };
  if (Object.keys(endpoint.tls).length > 0) options.socketOptions = { ...endpoint.tls };
  return options;
}
