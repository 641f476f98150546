/**
 * Process entry point of the CLI (bin/warren.js runs the compiled main.ts the
 * same way). Unlike the library, the CLI owns the process: it installs a
 * SIGINT handler so that Ctrl-C ends a command with exit code 130 and no
 * stack trace.
 */
import { main } from "./main.ts";

process.once("SIGINT", () => {
  process.stderr.write("interrupted\n");
  process.exit(130);
});

process.exitCode = await main(process.argv.slice(2));
