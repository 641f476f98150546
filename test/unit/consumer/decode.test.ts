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

  it("refuses JSON whose strings hold invalid UTF-8 as undecodable instead of replacing the bytes", () => {
    const body = Buffer.concat([
      Buffer.from('{"name":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    const result = decodeBody(body, 100, undefined);
    expect(result).toMatchObject({ ok: false, reason: "undecodable" });
    if (!result.ok)
      expect(result.error.message).toBe(
        "body is not valid UTF-8 text (an invalid byte sequence); JSON must be UTF-8",
      );
  });

  it("accepts valid multi-byte UTF-8 and a leading byte-order mark", () => {
    const body = Buffer.from('\uFEFF{"name":"café ☕"}', "utf8");
    expect(decodeBody(body, 100, undefined)).toEqual({ ok: true, value: { name: "café ☕" } });
  });

  it("refuses JSON nested deeper than a schema can walk as invalid-payload, without throwing", () => {
    type Deep = { next?: Deep | undefined };
    const deep: z.ZodType<Deep> = z.lazy(() => z.object({ next: deep.optional() }));
    const depth = 100_000;
    const body = Buffer.from(`${'{"next":'.repeat(depth)}{}${"}".repeat(depth)}`);
    const result = decodeBody(body, body.length, deep);
    expect(result).toMatchObject({ ok: false, reason: "invalid-payload" });
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
