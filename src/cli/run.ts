/**
 * Process entry point of the CLI (bin/warren.js runs the compiled main.ts the
 * same way). Unlike the library, the CLI owns the process: it installs a
 * SIGINT handler so that Ctrl-C ends a command with exit code 130 and no
 * stack trace, unless the command took SIGINT over (`warren worker`).
 */
import { processSignals } from "./command.ts";
import { main } from "./main.ts";

process.on("SIGINT", () => {
  if (processSignals.owned) return; // `warren worker` drains on it instead
  process.stderr.write("interrupted\n");
  process.exit(130);
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
// After a drain, handlers that outlived the deadline must not run on: their
// messages are back in the queue already.
if (processSignals.owned) process.exit(code);
