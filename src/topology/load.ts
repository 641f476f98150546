/**
 * Reading a topology file: YAML or JSON text → `${ENV}` interpolation →
 * {@link topologySchema} → a resolved {@link Topology}, or one
 * {@link TopologyError} that lists every problem with its line, its path in
 * the file and the fix.
 *
 * This file does the I/O and the order of the steps; the YAML walk with its
 * interpolation is yaml-tree.ts (and interpolate.ts), the wording of the
 * issues issues.ts.
 *
 * Every step is bounded in time and memory by the size of the text: the
 * YAML library's alias limit and a node budget stop alias bombs, and no
 * check is quadratic in the number of keys (measured in docs/hostile-inputs.md).
 */

import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { ErrorCode, TopologyError, type TopologyIssue } from "../errors.ts";
import {
  formatPath,
  formatTopologyIssue,
  friendlyMessage,
  jsonSyntaxIssue,
  topologyFailure,
} from "./issues.ts";
import { MAX_FLOW_NESTING, tooDeepAt } from "./nesting.ts";
import { knownKeysAt, type Topology, topologySchema } from "./schema.ts";
import { didYouMean } from "./suggest.ts";
import { checkAliases, ExpansionLimitError, type Path, TreeReader } from "./yaml-tree.ts";

export type { TopologyIssue } from "../errors.ts";
export { formatPath, formatTopologyIssue };

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
  const codes = TOPOLOGY_LOAD_ERROR_CODES;
  const syntax = (issues: TopologyIssue[]) =>
    topologyFailure(codes.parse, fileName, `not valid ${json ? "JSON" : "YAML"}`, tooDeep(issues));

  const deepLine = tooDeepAt(text);
  if (deepLine !== undefined) {
    throw syntax([
      {
        path: "",
        line: deepLine,
        message: `nested too deeply to read (lists or mappings more than ${MAX_FLOW_NESTING} levels inside each other); a topology needs a few levels`,
      },
    ]);
  }
  if (json && text.trim() !== "") {
    try {
      JSON.parse(text);
    } catch (error) {
      throw syntax([jsonSyntaxIssue(text, (error as Error).message)]);
    }
  }
  // uniqueKeys: false: the library compares every pair of keys of a mapping
  // (quadratic); the walk finds repeated keys with a set instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw syntax(
      doc.errors.map((error) => ({
        path: "",
        line: lineCounter.linePos(error.pos[0]).line,
        message: error.message.split("\n")[0] ?? error.message,
      })),
    );
  }
  if (doc.contents === null) {
    throw topologyFailure(codes.invalid, fileName, "invalid topology", [
      {
        path: "",
        message: "the file is empty; declare exchanges and queues (see docs/topology.md)",
      },
    ]);
  }
  const aliasProblem = checkAliases(doc, text);
  if (aliasProblem !== undefined) throw syntax([{ path: "", message: aliasProblem }]);

  // Without aliases every node takes at least one character of the text.
  const tree = new TreeReader(doc, lineCounter, env, text.length + 10_000);
  let value: unknown;
  try {
    value = tree.read(doc.contents, []);
  } catch (error) {
    if (error instanceof ExpansionLimitError) throw syntax([{ path: "", message: error.message }]);
    throw error;
  }
  if (tree.parseIssues.length > 0) throw syntax(tree.parseIssues);
  if (tree.envIssues.length > 0) {
    const issues = [...tree.envIssues, ...tree.issues];
    throw topologyFailure(codes.env, fileName, "unset environment variables", issues);
  }
  if (tree.issues.length > 0) {
    throw topologyFailure(codes.invalid, fileName, "invalid topology", tree.issues);
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
  throw topologyFailure(TOPOLOGY_LOAD_ERROR_CODES.invalid, fileName, "invalid topology", issues);
}

function located(path: Path, message: string, lineOf: (path: Path) => number | undefined) {
  const line = lineOf(path);
  const issue: TopologyIssue = { path: formatPath(path), message };
  if (line !== undefined) issue.line = line;
  return issue;
}

/**
 * A parser that ran out of stack reports it in words of its own (V8's
 * "Maximum call stack size exceeded", a regular expression's "Stack
 * overflow"); say once what the file did instead.
 */
function tooDeep(issues: TopologyIssue[]): TopologyIssue[] {
  const deep = issues.filter((issue) => /call stack size|stack overflow/i.test(issue.message));
  if (deep.length === 0) return issues;
  const first = deep[0] as TopologyIssue;
  return [
    {
      ...first,
      message:
        "nested too deeply to read (lists or mappings inside each other thousands of levels deep); a topology needs a few levels",
    },
    ...issues.filter((issue) => !deep.includes(issue)),
  ];
}

function isJson(fileName: string, text: string): boolean {
  const extension = extname(fileName).toLowerCase();
  if (extension === ".json") return true;
  if (extension === ".yaml" || extension === ".yml") return false;
  return text.trimStart().startsWith("{");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
