/**
 * Everything the CLI prints goes through an {@link Output}: human text or
 * JSON on stdout, diagnostics on stderr, and every line passed through the
 * password mask first, so a credential given on the command line or in the
 * environment cannot reach the terminal or a log collector.
 */
import { maskSecrets } from "../connection/url.ts";
import { ErrorCode, WarrenError } from "../errors.ts";

/** Where the CLI writes; tests pass their own to capture output. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** True when stdout is a terminal (`--watch` then redraws in place). */
  isTty?: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  isTty: process.stdout.isTTY === true,
};

export class Output {
  readonly json: boolean;
  readonly #io: CliIo;
  readonly #secretUrls: string[];

  constructor(io: CliIo, json: boolean, secretUrls: string[]) {
    this.#io = io;
    this.json = json;
    this.#secretUrls = secretUrls;
  }

  mask(text: string): string {
    return maskSecrets(text, this.#secretUrls);
  }

  /** A line of human output on stdout (suppressed in --json mode). */
  line(text = ""): void {
    if (!this.json) this.#io.stdout(`${this.mask(text)}\n`);
  }

  /** The machine result on stdout (only in --json mode). */
  result(value: unknown): void {
    if (this.json) this.#io.stdout(`${this.mask(JSON.stringify(value, null, 2))}\n`);
  }

  /** Raw text on stdout in either mode (e.g. an exported document). */
  raw(text: string): void {
    this.#io.stdout(this.mask(text));
  }

  /** A diagnostic on stderr. */
  error(text: string): void {
    this.#io.stderr(`${this.mask(text)}\n`);
  }

  /** Reports a failure: one readable message on stderr; in --json mode also an object on stdout. */
  failure(error: unknown): void {
    const code = error instanceof WarrenError ? error.code : ErrorCode.WARREN_UNEXPECTED;
    const message = error instanceof Error ? error.message : String(error);
    const issues = (error as { issues?: unknown } | undefined)?.issues;
    this.error(
      error instanceof WarrenError ? `error: ${message}` : `error: unexpected failure: ${message}`,
    );
    this.result({
      ok: false,
      error: { code, message, ...(Array.isArray(issues) ? { issues } : {}) },
    });
  }
}

/** Left-aligned columns; the last column is not padded. */
export function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}
