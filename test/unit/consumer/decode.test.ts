import { describe, expect, it } from "vitest";
import { z } from "zod";
import { decodeBody } from "../../../src/consumer/decode.ts";

const schema = z.object({ id: z.number() });

describe("decodeBody", () => {
  it("parses JSON and validates it with the schema", () => {
    expect(decodeBody(Buffer.from('{"id":1}'), 100, schema)).toEqual({
      ok: true,
      value: { id: 1 },
    });
  });

  it("passes the JSON value through without a schema", () => {
    expect(decodeBody(Buffer.from("[1,2]"), 100, undefined)).toEqual({ ok: true, value: [1, 2] });
  });

  it("refuses a body over maxBytes before parsing it", () => {
    const result = decodeBody(Buffer.from('{"id":1}'), 4, schema);
    expect(result).toMatchObject({ ok: false, reason: "too-large" });
  });

  it("refuses a body that is not JSON as undecodable", () => {
    const result = decodeBody(Buffer.from("id=1"), 100, undefined);
    expect(result).toMatchObject({ ok: false, reason: "undecodable" });
    if (!result.ok) expect(result.error.name).toBe("UndecodableError");
  });

  it("names the failing path when the schema refuses the payload", () => {
    const result = decodeBody(Buffer.from('{"id":"1"}'), 100, schema);
    expect(result).toMatchObject({ ok: false, reason: "invalid-payload" });
    if (!result.ok) expect(result.error.message).toMatch(/^payload fails its schema: id: /);
  });

  it.each([
    '{"__proto__":{"admin":true}}',
    '{"a":{"constructor":{"prototype":{"admin":true}}}}',
    '{"\\u005f_proto__":{"admin":true}}',
  ])("refuses prototype keys as invalid-payload: %s", (text) => {
    const result = decodeBody(Buffer.from(text), 1000, undefined);
    expect(result).toMatchObject({ ok: false, reason: "invalid-payload" });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("accepts keys that only look like the forbidden ones", () => {
    const text = '{"constructorName":"x","proto":1,"s":"__proto__ in a value","u":"\\u00e9"}';
    expect(decodeBody(Buffer.from(text), 1000, undefined)).toMatchObject({ ok: true });
  });
});
