/**
 * Process entry point of the CLI (bin/warren.js runs the compiled main.ts the
 * same way). Unlike the library, the CLI owns the process: it installs a
 * SIGINT handler so that Ctrl-C ends a command with exit code 130 and no
 * stack trace, unless the command took SIGINT over (`warren worker`), and
 * exits quietly when its output pipe is closed (EPIPE).
 */
import { processSignals } from "./command.ts";
import { main } from "./main.ts";

// `warren ... | head` closes the pipe before all output is written: stop
// quietly instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  });
}

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
