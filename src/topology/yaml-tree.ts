/**
 * Turns a parsed YAML document into plain values, interpolating `${NAME}` in
 * every string (keys included) and recording the line of every key and list
 * item under its interpolated path, so that a zod issue's path maps straight
 * to a line.
 *
 * The walk is by hand (rather than `toJS`) for those lines, and it keeps
 * three promises that `toJS` keeps for it otherwise:
 *
 * - Aliases are expanded only within the YAML library's own limit
 *   (`maxAliasCount`, checked by `toJS` before the walk, see
 *   {@link checkAliases}), and the walk stops after a node budget: a YAML
 *   alias bomb of a few hundred bytes is refused at once, not expanded into
 *   gigabytes.
 * - Keys are the text the user wrote: a plain `007:` stays `007`, not the
 *   number 7 (the YAML core schema would read it as one).
 * - A key repeated in one mapping is found with a set, not the library's
 *   pairwise check, which made a 10 MB file take minutes.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Document as YamlDocument,
  type Node as YamlNode,
} from "yaml";
import type { TopologyIssue } from "../errors.ts";
import { interpolate } from "./interpolate.ts";
import { formatPath } from "./issues.ts";

export type Path = (string | number)[];

/** Aliases allowed per document, as the YAML library counts them (its default). */
export const MAX_ALIAS_COUNT = 100;

/** The document expands to more nodes than its size allows (an alias bomb). */
export class ExpansionLimitError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(
      `the file expands to more than ${limit} nodes through aliases; use fewer aliases (a YAML alias bomb is refused)`,
    );
    this.limit = limit;
  }
}

/**
 * Lets the YAML library count the document's aliases with its own limit;
 * `toJS` shares the value of an anchor between its aliases instead of
 * copying it, so this costs about the size of the file.
 *
 * @returns the library's message when the limit is passed.
 */
export function checkAliases(doc: YamlDocument, text: string): string | undefined {
  if (!text.includes("*")) return undefined;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    return undefined;
  } catch (error) {
    if (error instanceof ReferenceError) {
      return `${error.message}: more than ${MAX_ALIAS_COUNT} alias expansions (a YAML alias bomb?); use fewer aliases`;
    }
    throw error;
  }
}

export class TreeReader {
  readonly issues: TopologyIssue[] = [];
  readonly envIssues: TopologyIssue[] = [];
  /** Keys repeated verbatim in one mapping: a syntax problem, like the library reports it. */
  readonly parseIssues: TopologyIssue[] = [];
  readonly #lines = new Map<string, number>();
  readonly #stack = new Set<unknown>();
  readonly #doc: YamlDocument;
  readonly #lineCounter: LineCounter;
  readonly #env: Record<string, string | undefined>;
  readonly #maxNodes: number;
  #nodes = 0;

  /**
   * @param maxNodes the most nodes the walk visits, aliases expanded; past
   *   it, `read` throws {@link ExpansionLimitError}.
   */
  constructor(
    doc: YamlDocument,
    lineCounter: LineCounter,
    env: Record<string, string | undefined>,
    maxNodes: number,
  ) {
    this.#doc = doc;
    this.#lineCounter = lineCounter;
    this.#env = env;
    this.#maxNodes = maxNodes;
  }

  /** The line of `path`, or of its nearest ancestor that has one. */
  lineOf(path: Path): number | undefined {
    for (let length = path.length; length >= 0; length--) {
      const line = this.#lines.get(JSON.stringify(path.slice(0, length)));
      if (line !== undefined) return line;
    }
    return undefined;
  }

  read(node: unknown, path: Path): unknown {
    if (++this.#nodes > this.#maxNodes) throw new ExpansionLimitError(this.#maxNodes);
    const line = this.#nodeLine(node);
    if (line !== undefined && !this.#lines.has(JSON.stringify(path))) {
      this.#lines.set(JSON.stringify(path), line);
    }
    if (isAlias(node)) {
      const target = node.resolve(this.#doc);
      if (this.#stack.has(target)) {
        this.issues.push(this.#issue(path, "an alias cannot refer to a node that contains it"));
        return null;
      }
      return this.read(target, path);
    }
    if (this.#stack.has(node)) return null;
    this.#stack.add(node);
    try {
      if (isMap(node)) return this.#readMap(node.items, path);
      if (isSeq(node)) return node.items.map((item, index) => this.read(item, [...path, index]));
      if (isScalar(node)) {
        return typeof node.value === "string" ? this.#interpolate(node.value, path) : node.value;
      }
      return node ?? null;
    } finally {
      this.#stack.delete(node);
    }
  }

  #readMap(
    pairs: readonly { key: unknown; value: unknown }[],
    path: Path,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const written = new Map<string, string>();
    const rawKeys = new Set<string>();
    for (const pair of pairs) {
      const keyNode = isAlias(pair.key) ? pair.key.resolve(this.#doc) : pair.key;
      const keyLine = this.#nodeLine(pair.key) ?? this.#nodeLine(pair.value);
      const raw = keyText(keyNode);
      if (raw === undefined) {
        this.issues.push(this.#issue(path, "keys must be names (strings)", keyLine));
        continue;
      }
      if (rawKeys.has(raw)) {
        this.parseIssues.push({
          path: "",
          message: "Map keys must be unique",
          ...lineField(keyLine),
        });
        continue;
      }
      rawKeys.add(raw);
      const key = this.#interpolate(raw, [...path, raw], keyLine);
      const keyPath = [...path, key];
      if (key === "__proto__") {
        this.issues.push(this.#issue(keyPath, '"__proto__" cannot be used as a name', keyLine));
        continue;
      }
      const first = written.get(key);
      if (first !== undefined) {
        const firstLine = this.#lines.get(JSON.stringify(keyPath));
        const after = " after $" + "{...} interpolation";
        const where = firstLine === undefined ? "" : ` (first at line ${firstLine})`;
        this.issues.push(
          this.#issue(
            keyPath,
            `${JSON.stringify(key)} is declared twice${after}${where}; names must be unique`,
            keyLine,
          ),
        );
        continue;
      }
      written.set(key, raw);
      if (keyLine !== undefined) this.#lines.set(JSON.stringify(keyPath), keyLine);
      out[key] = this.read(pair.value, keyPath);
    }
    return out;
  }

  #interpolate(text: string, path: Path, line = this.lineOf(path)): string {
    const result = interpolate(text, this.#env);
    for (const issue of result.issues) {
      (issue.kind === "env" ? this.envIssues : this.issues).push(
        this.#issue(path, issue.message, line),
      );
    }
    return result.text;
  }

  #nodeLine(node: unknown): number | undefined {
    const range = (node as YamlNode | null | undefined)?.range;
    return range ? this.#lineCounter.linePos(range[0]).line : undefined;
  }

  #issue(path: Path, message: string, line = this.lineOf(path)): TopologyIssue {
    return { path: formatPath(path), message, ...lineField(line) };
  }
}

function lineField(line: number | undefined): { line?: number } {
  return line === undefined ? {} : { line };
}

/**
 * A key as the user wrote it: a string as is; a plain scalar the core schema
 * read as a number or boolean (`007`, `1.50`, `true`) by its source text.
 */
function keyText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const value = node.value;
  if (typeof value === "string") return value;
  if (typeof value !== "number" && typeof value !== "boolean") return undefined;
  return typeof node.source === "string" && node.source !== "" ? node.source : String(value);
}
