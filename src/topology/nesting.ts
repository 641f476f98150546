/**
 * Finds flow collections nested too deeply before any parser sees the text.
 *
 * A topology needs a few levels of `[` and `{`. A file of 100,000 nested
 * brackets (200 KB) made the YAML and JSON parsers recurse until the stack
 * ran out, which took 3 to 4 s and 300 MB here and over 2 minutes on a busy
 * machine (issue 16, scenario 13). One pass over the characters finds it
 * in linear time and constant memory instead.
 *
 * Brackets inside quoted strings and comments do not count. The scan knows
 * JSON strings and YAML's quoted scalars and comments; it does not know YAML
 * block scalars (`|`, `>`), whose text could in theory hold brackets that
 * count. With the limit far above any real topology, that cannot turn a
 * sensible file away.
 */

/** Deeper than this is refused; real topologies use fewer than 10 levels. */
export const MAX_FLOW_NESTING = 100;

/** The 1-based line where nesting first exceeds `limit`, or undefined when it never does. */
export function tooDeepAt(text: string, limit = MAX_FLOW_NESTING): number | undefined {
  let depth = 0;
  let line = 1;
  let quote: '"' | "'" | undefined;
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      line++;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (quote === '"') {
      if (c === "\\")
        i++; // the escaped character cannot end the string
      else if (c === '"') quote = undefined;
      continue;
    }
    if (quote === "'") {
      // YAML writes a quote inside single quotes as '' (two in a row).
      if (c === "'") {
        if (text[i + 1] === "'") i++;
        else quote = undefined;
      }
      continue;
    }
    const before = i === 0 ? "\n" : text[i - 1];
    if (c === '"') quote = '"';
    else if (c === "'" && startsScalar(before)) quote = "'";
    else if (c === "#" && (before === " " || before === "\t" || before === "\n")) comment = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth > limit) return line;
    } else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return undefined;
}

/** A `'` opens a quoted YAML scalar only where a scalar can start (not in "don't"). */
function startsScalar(before: string | undefined): boolean {
  return (
    before === undefined ||
    before === " " ||
    before === "\t" ||
    before === "\n" ||
    before === "[" ||
    before === "{" ||
    before === "," ||
    before === ":"
  );
}
