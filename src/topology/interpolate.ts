/**
 * `${NAME}` interpolation in topology strings (keys and values):
 *
 * - `${NAME}`: the variable's value; an unset or empty variable is an issue.
 * - `${NAME:-default}`: the default when the variable is unset or empty. The
 *   default may itself hold `${...}` (`${A:-${B:-x}}`), resolved only when
 *   it is used.
 * - `$${`: a literal `${`.
 *
 * Anything else that starts with `${` is an issue, so that a typo never
 * reaches the broker as a name. The scan is one pass over the text (nesting
 * recurses once per level), so its cost is linear in the text.
 */

/** A problem found while interpolating one string. */
export interface InterpolationIssue {
  /** `env`: a variable is not set; `syntax`: a malformed `${...}`. */
  kind: "env" | "syntax";
  message: string;
}

/** The interpolated text and the problems met (the text keeps them verbatim). */
export interface Interpolated {
  text: string;
  issues: InterpolationIssue[];
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Interpolates `text` with the variables of `env`; see the module comment. */
export function interpolate(text: string, env: Record<string, string | undefined>): Interpolated {
  if (!text.includes("${")) return { text, issues: [] };
  const issues: InterpolationIssue[] = [];
  const [out] = scan(text, 0, false, env, issues);
  return { text: out, issues };
}

/**
 * Reads from `start` to the end, or (inside a default) to its closing `}`.
 * Returns the output and the index of that `}` (or the text's length).
 */
function scan(
  text: string,
  start: number,
  inDefault: boolean,
  env: Record<string, string | undefined>,
  issues: InterpolationIssue[],
): [string, number] {
  let out = "";
  let i = start;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      out += "${";
      i += 3;
    } else if (text.startsWith("${", i)) {
      const [value, next] = reference(text, i, env, issues);
      out += value;
      i = next;
    } else if (inDefault && text[i] === "}") {
      return [out, i];
    } else {
      out += text[i];
      i++;
    }
  }
  return [out, i];
}

/** One `${...}` at `start`: its value and the index after it. */
function reference(
  text: string,
  start: number,
  env: Record<string, string | undefined>,
  issues: InterpolationIssue[],
): [string, number] {
  NAME.lastIndex = start + 2;
  const name = NAME.exec(text)?.[0];
  const after = start + 2 + (name?.length ?? 0);
  if (name !== undefined && text[after] === "}") {
    const value = env[name];
    if (value !== undefined && value !== "") return [value, after + 1];
    issues.push({
      kind: "env",
      message: `environment variable ${name} is not set; set it or write \${${name}:-default}`,
    });
    return [text.slice(start, after + 1), after + 1];
  }
  if (name !== undefined && text.startsWith(":-", after)) {
    const inner: InterpolationIssue[] = [];
    const [fallback, close] = scan(text, after + 2, true, env, inner);
    if (close < text.length) {
      const value = env[name];
      if (value !== undefined && value !== "") return [value, close + 1];
      issues.push(...inner);
      return [fallback, close + 1];
    }
    // No closing brace: fall through to the syntax issue.
  }
  const close = text.indexOf("}", start);
  const end = close === -1 ? text.length : close + 1;
  const match = text.slice(start, end);
  issues.push({
    kind: "syntax",
    message: `${JSON.stringify(match)} is not a valid variable; write \${NAME} or \${NAME:-default}`,
  });
  return [match, end];
}
