/**
 * Turns a delivery's body into the value a handler receives, or says why it
 * cannot: too big (`too-large`), not JSON (`undecodable`), or not what the
 * schema wants (`invalid-payload`). Such messages are dead-lettered without
 * calling the handler.
 *
 * The bytes are decoded as strict UTF-8: a body with an invalid sequence is
 * `undecodable`. A lenient decode would hand the handler U+FFFD in place of
 * the bad bytes, a silent change to the data that no one could undo.
 *
 * Nesting is bounded by the engine's stack: JSON nested too deep to parse
 * (or to check against the schema) is `undecodable` (or `invalid-payload`),
 * never an exception that would requeue the message for ever.
 *
 * A body with a `__proto__` or `constructor` key is refused as
 * `invalid-payload`. `JSON.parse` itself does not pollute prototypes, but a
 * handler that later merges the value into another object would; refusing
 * the key at the boundary removes the risk for every handler. The reviver
 * that finds such keys is slower than a plain parse, so it only runs when the
 * text could hold one (it names one, or uses `\u` escapes that could spell
 * one).
 */
import type { ZodType } from "zod";
import type { DeadLetterReason } from "./retry.ts";

export type Decoded<T> =
  | { ok: true; value: T }
  | { ok: false; reason: DeadLetterReason; error: Error };

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor"]);

/** A decode failure, recorded in the dead-letter headers. */
export class DecodeError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

class ForbiddenKey extends Error {}

/** Strict: throws on an invalid sequence instead of writing U+FFFD. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

function rejectForbiddenKeys(key: string, value: unknown): unknown {
  if (FORBIDDEN_KEYS.has(key)) throw new ForbiddenKey(key);
  return value;
}

function mayHoldForbiddenKey(text: string): boolean {
  return text.includes("__proto__") || text.includes("constructor") || text.includes("\\u");
}

/** Decodes and validates one body. */
export function decodeBody<T>(
  content: Buffer,
  maxBytes: number,
  schema: ZodType<T> | undefined,
): Decoded<T> {
  if (content.length > maxBytes) {
    return {
      ok: false,
      reason: "too-large",
      error: new DecodeError(
        "MessageTooLargeError",
        `body is ${content.length} bytes, over the consumer's maxBytes of ${maxBytes}`,
      ),
    };
  }
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return {
      ok: false,
      reason: "undecodable",
      error: new DecodeError(
        "UndecodableError",
        "body is not valid UTF-8 text (an invalid byte sequence); JSON must be UTF-8",
      ),
    };
  }
  let value: unknown;
  try {
    value = mayHoldForbiddenKey(text) ? JSON.parse(text, rejectForbiddenKeys) : JSON.parse(text);
  } catch (error) {
    if (error instanceof ForbiddenKey) {
      return {
        ok: false,
        reason: "invalid-payload",
        error: new DecodeError(
          "InvalidPayloadError",
          `body has a forbidden key "${error.message}" (prototype pollution guard)`,
        ),
      };
    }
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      reason: "undecodable",
      error: new DecodeError("UndecodableError", `body is not JSON: ${detail}`),
    };
  }
  if (schema === undefined) return { ok: true, value: value as T };
  let result: ReturnType<ZodType<T>["safeParse"]>;
  try {
    result = schema.safeParse(value);
  } catch (error) {
    // A value nested deeper than the stack allows (RangeError).
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      reason: "invalid-payload",
      error: new DecodeError("InvalidPayloadError", `payload cannot be checked: ${detail}`),
    };
  }
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues
    .map(
      (issue) => `${issue.path.length === 0 ? "(root)" : issue.path.join(".")}: ${issue.message}`,
    )
    .join("; ");
  return {
    ok: false,
    reason: "invalid-payload",
    error: new DecodeError("InvalidPayloadError", `payload fails its schema: ${issues}`),
  };
}
