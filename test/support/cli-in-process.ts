import { main } from "../../src/cli/main.ts";

/** Runs the CLI in-process with captured output and the given environment (empty by default). */
export async function runInProcess(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
  });
  return { code, stdout, stderr };
}
