/**
 * Reading a topology file: YAML or JSON text → `${ENV}` interpolation →
 * {@link topologySchema} → a resolved {@link Topology}, or one
 * {@link TopologyError} that lists every problem with its line, its path in
 * the file and the fix.
 *
 * The YAML syntax tree is walked by hand (rather than `toJS`) so that each
 * key and list item keeps its line, keyed by its path after interpolation;
 * a zod issue's path then maps straight to a line.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document as YamlDocument,
  type Node as YamlNode,
} from "yaml";
import type { z } from "zod";
import { ErrorCode, TopologyError, type TopologyIssue } from "../errors.ts";
import { describeValue } from "./duration.ts";
import { knownKeysAt, type Topology, topologySchema } from "./schema.ts";
import { didYouMean } from "./suggest.ts";

export type { TopologyIssue } from "../errors.ts";

/** The codes of the errors thrown while loading a topology (see docs/errors.md). */
export const TOPOLOGY_LOAD_ERROR_CODES = Object.freeze({
  /** The file does not exist. */
  notFound: ErrorCode.WARREN_TOPOLOGY_NOT_FOUND,
  /** The file exists but cannot be read (a directory, no permission). */
  unreadable: ErrorCode.WARREN_TOPOLOGY_UNREADABLE,
  /** The text is not valid YAML or JSON. */
  parse: ErrorCode.WARREN_TOPOLOGY_PARSE,
  /** A `${VAR}` names an environment variable that is not set. */
  env: ErrorCode.WARREN_TOPOLOGY_ENV,
  /** The file parses but breaks the topology schema or its rules. */
  invalid: ErrorCode.WARREN_TOPOLOGY_INVALID,
} as const);

/** Options of {@link loadTopology}. */
export interface LoadTopologyOptions {
  /**
   * Variables for `${NAME}` and `${NAME:-default}` in the file.
   * @default process.env
   */
  env?: Record<string, string | undefined>;
}

/** Options of {@link parseTopology}. */
export interface ParseTopologyOptions extends LoadTopologyOptions {
  /** Name shown in error messages; its extension (.json) selects JSON. */
  fileName: string;
}

/**
 * Reads, interpolates and validates a topology file (YAML, or JSON when the
 * name ends in `.json`).
 *
 * @throws {TopologyError} `WARREN_TOPOLOGY_NOT_FOUND`, `WARREN_TOPOLOGY_UNREADABLE`,
 *   `WARREN_TOPOLOGY_PARSE`, `WARREN_TOPOLOGY_ENV` or `WARREN_TOPOLOGY_INVALID`,
 *   with every problem in `issues`.
 */
export async function loadTopology(
  path: string,
  options: LoadTopologyOptions = {},
): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new TopologyError(
        TOPOLOGY_LOAD_ERROR_CODES.notFound,
        `${path}: topology file not found; check the path (relative paths start from ${process.cwd()})`,
        { cause: error },
      );
    }
    throw new TopologyError(
      TOPOLOGY_LOAD_ERROR_CODES.unreadable,
      `${path}: cannot read the topology file (${code ?? String(error)}); it must be a readable file`,
      { cause: error },
    );
  }
  return parseTopology(text, { ...options, fileName: path });
}

/**
 * Parses, interpolates and validates topology text. JSON is read when
 * `fileName` ends in `.json` (or, for other extensions, when the text starts
 * with `{`); anything else is YAML.
 *
 * @throws {TopologyError} `WARREN_TOPOLOGY_PARSE`, `WARREN_TOPOLOGY_ENV` or
 *   `WARREN_TOPOLOGY_INVALID`, with every problem in `issues`.
 */
export function parseTopology(text: string, options: ParseTopologyOptions): Topology {
  const { fileName } = options;
  const env = options.env ?? process.env;
  const lineCounter = new LineCounter();
  const json = isJson(fileName, text);

  if (json && text.trim() !== "") {
    try {
      JSON.parse(text);
    } catch (error) {
      const issue = jsonSyntaxIssue(text, (error as Error).message);
      throw failure(TOPOLOGY_LOAD_ERROR_CODES.parse, fileName, "not valid JSON", [issue]);
    }
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((error) => ({
      path: "",
      line: lineCounter.linePos(error.pos[0]).line,
      message: error.message.split("\n")[0] ?? error.message,
    }));
    throw failure(
      TOPOLOGY_LOAD_ERROR_CODES.parse,
      fileName,
      `not valid ${json ? "JSON" : "YAML"}`,
      issues,
    );
  }
  if (doc.contents === null) {
    throw failure(TOPOLOGY_LOAD_ERROR_CODES.invalid, fileName, "invalid topology", [
      {
        path: "",
        message: "the file is empty; declare exchanges and queues (see docs/topology.md)",
      },
    ]);
  }

  const tree = new TreeReader(doc, lineCounter, env);
  const value = tree.read(doc.contents, []);
  if (tree.envIssues.length > 0) {
    const issues = [...tree.envIssues, ...tree.issues];
    throw failure(TOPOLOGY_LOAD_ERROR_CODES.env, fileName, "unset environment variables", issues);
  }
  if (tree.issues.length > 0) {
    throw failure(TOPOLOGY_LOAD_ERROR_CODES.invalid, fileName, "invalid topology", tree.issues);
  }
  // `$schema` points editors at the JSON Schema; it is not part of the topology.
  if (isRecord(value) && typeof value.$schema === "string") delete value.$schema;
  return validate(value, fileName, (path) => tree.lineOf(path));
}

/**
 * Validates a topology given as a value (for topologies built in code).
 *
 * @throws {TopologyError} `WARREN_TOPOLOGY_INVALID`, with every problem in `issues`.
 */
export function resolveTopology(input: unknown, options: { fileName?: string } = {}): Topology {
  return validate(input, options.fileName ?? "topology", () => undefined);
}

/** One issue as a line of an error message: `file:line: path: message`. */
export function formatTopologyIssue(fileName: string, issue: TopologyIssue): string {
  const where = issue.line === undefined ? fileName : `${fileName}:${issue.line}`;
  return issue.path === ""
    ? `${where}: ${issue.message}`
    : `${where}: ${issue.path}: ${issue.message}`;
}

/**
 * A path in the file as users write it: `queues."orders.fulfil".bindings[0]`.
 * Names that are not plain identifiers are quoted.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const text = String(segment);
      const plain = /^[A-Za-z_$][\w$]*$/.test(text) ? text : JSON.stringify(text);
      out += out === "" ? plain : `.${plain}`;
    }
  }
  return out;
}

type Path = (string | number)[];

function validate(
  input: unknown,
  fileName: string,
  lineOf: (path: Path) => number | undefined,
): Topology {
  const result = topologySchema.safeParse(input, { error: friendlyMessage });
  if (result.success) return result.data;
  const issues: TopologyIssue[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((s): s is string | number => typeof s !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const allowed = knownKeysAt(path) ?? [];
      for (const key of issue.keys) {
        const hint = didYouMean(key, allowed);
        const message =
          hint === "" && allowed.length > 0
            ? `unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(", ")})`
            : `unknown key ${JSON.stringify(key)}${hint}`;
        issues.push(located([...path, key], message, lineOf));
      }
    } else {
      issues.push(located(path, issue.message, lineOf));
    }
  }
  throw failure(TOPOLOGY_LOAD_ERROR_CODES.invalid, fileName, "invalid topology", issues);
}

function located(path: Path, message: string, lineOf: (path: Path) => number | undefined) {
  const line = lineOf(path);
  const issue: TopologyIssue = { path: formatPath(path), message };
  if (line !== undefined) issue.line = line;
  return issue;
}

const EXPECTED: Record<string, string> = {
  object: "a mapping",
  record: "a mapping of names",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

/** zod's messages, reworded for people editing a file. */
const friendlyMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? "is required"
        : `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case "invalid_value": {
      const allowed = issue.values.map((v) => String(v));
      if (issue.input === undefined) return `is required: one of ${allowed.join(", ")}`;
      const hint = typeof issue.input === "string" ? didYouMean(issue.input, allowed) : "";
      return `${describeValue(issue.input)} is not one of: ${allowed.join(", ")}${hint}`;
    }
    case "too_small":
      if (issue.origin === "string") return "cannot be empty";
      if (issue.origin === "array") return `needs at least ${issue.minimum} items`;
      return `must be at least ${issue.minimum}, got ${describeValue(issue.input)}`;
    case "too_big":
      return `must be at most ${issue.maximum}, got ${describeValue(issue.input)}`;
    default:
      return undefined;
  }
};

function failure(
  code: ErrorCode,
  fileName: string,
  summary: string,
  issues: TopologyIssue[],
): TopologyError {
  const sorted = [...issues].sort(
    (a, b) => (a.line ?? Number.POSITIVE_INFINITY) - (b.line ?? Number.POSITIVE_INFINITY),
  );
  const count = sorted.length === 1 ? "1 problem" : `${sorted.length} problems`;
  const lines = sorted.map((issue) => `  ${formatTopologyIssue(fileName, issue)}`);
  return new TopologyError(code, [`${fileName}: ${summary} (${count}):`, ...lines].join("\n"), {
    issues: sorted,
  });
}

function isJson(fileName: string, text: string): boolean {
  const extension = extname(fileName).toLowerCase();
  if (extension === ".json") return true;
  if (extension === ".yaml" || extension === ".yml") return false;
  return text.trimStart().startsWith("{");
}

function jsonSyntaxIssue(text: string, message: string): TopologyIssue {
  const issue: TopologyIssue = {
    path: "",
    message: message.replace(/ \(line \d+ column \d+\)$/, ""),
  };
  const line = /\(line (\d+) column \d+\)/.exec(message)?.[1];
  const position = /position (\d+)/.exec(message)?.[1];
  if (line !== undefined) issue.line = Number(line);
  else if (position !== undefined) issue.line = text.slice(0, Number(position)).split("\n").length;
  return issue;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Turns the YAML tree into plain values, interpolating `${NAME}` in every
 * string (keys included) and recording the line of every key and list item
 * under its interpolated path.
 */
class TreeReader {
  readonly issues: TopologyIssue[] = [];
  readonly envIssues: TopologyIssue[] = [];
  readonly #lines = new Map<string, number>();
  readonly #stack = new Set<unknown>();

  readonly doc: YamlDocument;
  readonly lineCounter: LineCounter;
  readonly env: Record<string, string | undefined>;

  constructor(
    doc: YamlDocument,
    lineCounter: LineCounter,
    env: Record<string, string | undefined>,
  ) {
    this.doc = doc;
    this.lineCounter = lineCounter;
    this.env = env;
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
    const line = this.#nodeLine(node);
    if (line !== undefined && !this.#lines.has(JSON.stringify(path))) {
      this.#lines.set(JSON.stringify(path), line);
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
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
    for (const pair of pairs) {
      const keyNode = isAlias(pair.key) ? pair.key.resolve(this.doc) : pair.key;
      const raw = isScalar(keyNode) ? keyNode.value : undefined;
      const keyLine = this.#nodeLine(pair.key) ?? this.#nodeLine(pair.value);
      if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
        this.issues.push(this.#issue(path, "keys must be names (strings)", keyLine));
        continue;
      }
      const key =
        typeof raw === "string"
          ? this.#interpolate(raw, [...path, String(raw)], keyLine)
          : String(raw);
      const keyPath = [...path, key];
      if (key === "__proto__") {
        this.issues.push(this.#issue(keyPath, '"__proto__" cannot be used as a name', keyLine));
        continue;
      }
      const first = written.get(key);
      if (first !== undefined) {
        const firstLine = this.#lines.get(JSON.stringify(keyPath));
        const interpolated = first.includes("${") || String(raw).includes("${");
        const after = interpolated ? " after $" + "{...} interpolation" : "";
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
      written.set(key, String(raw));
      if (keyLine !== undefined) this.#lines.set(JSON.stringify(keyPath), keyLine);
      out[key] = this.read(pair.value, keyPath);
    }
    return out;
  }

  #interpolate(text: string, path: Path, line = this.lineOf(path)): string {
    return text.replace(
      /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\{[^}]*\}?/g,
      (
        match,
        name: string | undefined,
        hasDefault: string | undefined,
        fallback: string | undefined,
      ) => {
        if (match === "$${") return "${";
        if (name === undefined) {
          this.issues.push(
            this.#issue(
              path,
              `${JSON.stringify(match)} is not a valid variable; write \${NAME} or \${NAME:-default}`,
              line,
            ),
          );
          return match;
        }
        const value = this.env[name];
        if (value !== undefined && value !== "") return value;
        if (hasDefault !== undefined) return fallback ?? "";
        this.envIssues.push(
          this.#issue(
            path,
            `environment variable ${name} is not set; set it or write \${${name}:-default}`,
            line,
          ),
        );
        return match;
      },
    );
  }

  #nodeLine(node: unknown): number | undefined {
    const range = (node as YamlNode | null | undefined)?.range;
    return range ? this.lineCounter.linePos(range[0]).line : undefined;
  }

  #issue(path: Path, message: string, line = this.lineOf(path)): TopologyIssue {
    const issue: TopologyIssue = { path: formatPath(path), message };
    if (line !== undefined) issue.line = line;
    return issue;
  }
}
