/**
 * `warren console [topology-file]`: serves the web console (docs/console.md)
 * until the process is stopped. The command parses its flags into
 * {@link ConsoleOptions}, calls `startConsole`, prints the URL with the
 * token, and then one line per action taken on the page.
 */
import { type ConsoleOptions, consoleDefaults, startConsole } from "../console/server.ts";
import { compileTopology } from "../topology/compile.ts";
import { loadTopology } from "../topology/load.ts";
import {
  type Command,
  type CommandContext,
  endpointOptions,
  type FlagValues,
  stringFlag,
  UsageError,
} from "./command.ts";

function integerFlag(values: FlagValues, name: string, min: number, max: number) {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

/** Resolves when the process is asked to stop (Ctrl-C is handled by run.ts: exit 130). */
function stopRequested(): Promise<void> {
  return new Promise((resolve) => process.once("SIGTERM", () => resolve()));
}

/** The `warren console` command. */
export const consoleCommand: Command = {
  summary: "serve a local web page of queues, retry tiers and dead letters, with replay and purge",
  usage: "[topology-file] [--port 8080] [--host 127.0.0.1]",
  help: [
    `--port <n>                  port to listen on; 0 picks a free one (default ${consoleDefaults.port})`,
    `--host <address>            address to listen on (default ${consoleDefaults.host}: this machine only)`,
    `--refresh-ms <ms>           how often queue figures are read from the management API (default ${consoleDefaults.refreshMs})`,
  ],
  positionals: [],
  optionalPositionals: ["topology-file"],
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "refresh-ms": { type: "string" },
  },
  async run(context: CommandContext): Promise<number> {
    const { values, out } = context;
    const options: ConsoleOptions = {
      ...endpointOptions(values, context.io.env),
      log: (line) => out.line(`${new Date().toISOString()} ${line}`),
    };
    const file = context.positionals[0];
    if (file !== undefined) {
      options.topology = compileTopology(await loadTopology(file, { env: context.io.env }));
    }
    const vhost = stringFlag(values, "vhost");
    if (vhost !== undefined) options.vhost = vhost;
    const host = stringFlag(values, "host");
    if (host !== undefined) options.host = host;
    const port = integerFlag(values, "port", 0, 65_535);
    if (port !== undefined) options.port = port;
    const refreshMs = integerFlag(values, "refresh-ms", 500, 3_600_000);
    if (refreshMs !== undefined) options.refreshMs = refreshMs;

    const stopped = stopRequested();
    const server = await startConsole(options);
    const { topology } = server;
    out.result({
      ok: true,
      url: server.url,
      pageUrl: server.pageUrl,
      token: server.token,
      vhost: topology.vhost,
      queues: topology.queues.map((q) => q.name),
    });
    out.line(`warren console: open ${server.pageUrl}`);
    out.line(
      `token: ${server.token} (the page sends it in the x-warren-token header; it is in the URL above)`,
    );
    out.line(
      `vhost "${topology.vhost}", queues from ${topology.source === "file" ? file : "the broker"}: ${topology.queues.map((q) => q.name).join(", ") || "none found"}`,
    );
    if (server.host !== "127.0.0.1" && server.host !== "::1" && server.host !== "localhost") {
      out.error(
        `warning: listening on ${server.host}: anyone who can reach it and has the token can replay and purge dead letters`,
      );
    }
    const first = server.sampleError();
    if (first !== undefined) {
      out.error(`warning: the first read of queue figures failed, the page will show it: ${first}`);
    }
    out.line("Ctrl-C stops it.");
    await stopped;
    await server.close();
    return 0;
  },
};
