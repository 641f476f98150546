/**
 * How topology problems read: one line per issue, `file:line: path: message`,
 * paths written as users write them (`queues."orders.fulfil".bindings[0]`),
 * zod's messages reworded for people editing a file, and the one
 * {@link TopologyError} that carries them all.
 */
import type { z } from "zod";
import { type ErrorCode, TopologyError, type TopologyIssue } from "../errors.ts";
import { describeValue } from "./duration.ts";
import { didYouMean } from "./suggest.ts";

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
export const friendlyMessage: z.core.$ZodErrorMap = (issue) => {
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

/** The error that lists every issue, sorted by line. */
export function topologyFailure(
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

/** A `JSON.parse` message as an issue with its line. */
export function jsonSyntaxIssue(text: string, message: string): TopologyIssue {
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
