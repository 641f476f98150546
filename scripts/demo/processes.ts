/**
 * The demo's child processes (the API and the workers): started with
 * `node <script>`, ready when they print `{"event":"ready",...}` on stdout,
 * stopped with SIGTERM (graceful) or SIGKILL (the crash the demo stages).
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface DemoProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The ready line's fields, e.g. `url` or `metricsUrl`. */
  readonly ready: Record<string, string>;
  /** The last lines it wrote to stderr. */
  stderrTail(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `script` and resolves once it reports ready (or rejects with its stderr). */
export async function startProcess(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<DemoProcess> {
  const child = spawn(process.execPath, [script], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${name} ${why}:\n${stderr}`));
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited (${code ?? signal})`);
    child.once("exit", onExit);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split("\n").slice(0, -1)) {
        const event = JSON.parse(line) as Record<string, string>;
        if (event.event === "ready") {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(event);
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    });
  });
  return {
    name,
    child,
    ready,
    stderrTail: () => stderr,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      // A graceful stop that takes longer than this is cut short.
      const timer = setTimeout(() => {
        if (process.env.DEMO_DEBUG) process.stderr.write(`${name} ignored ${signal}; SIGKILL\n`);
        child.kill("SIGKILL");
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
