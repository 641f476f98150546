/**
 * Consumer processes of the reliability harness (fixtures/ledger-consumer.ts):
 * started, watched, signalled and stopped by the scenario. Every JSON line a
 * process prints is kept; the harness reads `hold`, `stats` and `unhandled`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LedgerConsumerConfig } from "../fixtures/ledger-consumer.ts";

const fixture = fileURLToPath(new URL("../fixtures/ledger-consumer.ts", import.meta.url));

export interface ConsumerEvent {
  consumer: string;
  event: "ready" | "hold" | "stats" | "unhandled" | "closed";
  [field: string]: unknown;
}

/** One consumer process. */
export class ConsumerProcess {
  readonly name: string;
  readonly events: ConsumerEvent[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<string>;
  stderr = "";
  /** Log lines at warn or above (pino JSON on stderr), counted by message. */
  readonly warnings = new Map<string, number>();
  /**
   * Last `stats` line: duplicates suppressed, in-progress deferrals, max
   * RSS, and the deliveries in flight and lanes subscribed at that moment.
   */
  stats = { duplicates: 0, deferred: 0, maxRssBytes: 0, inFlight: 0, subscribedLanes: 0 };
  #listeners = new Set<(event: ConsumerEvent) => void>();

  constructor(config: LedgerConsumerConfig) {
    this.name = config.name;
    this.child = spawn(process.execPath, [fixture], {
      env: { ...process.env, LEDGER_CONSUMER: JSON.stringify(config) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffered = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        let event: ConsumerEvent;
        try {
          event = JSON.parse(line) as ConsumerEvent;
        } catch {
          continue;
        }
        if (event.event === "stats") {
          this.stats = event as unknown as typeof this.stats;
        } else this.events.push(event);
        for (const listener of this.#listeners) listener(event);
      }
    });
    let partial = "";
    this.child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.stderr = (this.stderr + text).slice(-8_000);
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.#countWarning(line);
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve(signal ?? `exit ${code}`));
    });
  }

  #countWarning(line: string): void {
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return; // not a log line (a stack trace of a crash is reported as unhandled)
    }
    if (typeof entry.level !== "number" || entry.level < 40) return;
    const message = String(entry.msg ?? "");
    this.warnings.set(message, (this.warnings.get(message) ?? 0) + 1);
  }

  /** Resolves with the first event matching `match` (already seen ones count). */
  next(match: (event: ConsumerEvent) => boolean, timeoutMs = 60_000): Promise<ConsumerEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(
          new Error(`${this.name}: no matching event in ${timeoutMs} ms; stderr: ${this.stderr}`),
        );
      }, timeoutMs);
      const listener = (event: ConsumerEvent) => {
        if (!match(event)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(event);
      };
      this.#listeners.add(listener);
    });
  }

  ready(timeoutMs = 120_000): Promise<ConsumerEvent> {
    return Promise.race([
      this.next((e) => e.event === "ready", timeoutMs),
      this.exited.then((why) => {
        throw new Error(`${this.name} exited before ready (${why}): ${this.stderr}`);
      }),
    ]);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    await this.exited;
  }

  /** Clean shutdown (SIGTERM: the consumer drains and closes); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.alive) return;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Uncaught errors and unhandled rejections the process reported. */
  get unhandled(): ConsumerEvent[] {
    return this.events.filter((e) => e.event === "unhandled");
  }
}
