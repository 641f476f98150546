import { describe, expect, it } from "vitest";
import { maskSecrets, maskUrl } from "../../../src/connection/url.ts";

describe("password masking", () => {
  it("replaces the password of a URL with ***, keeping user, host, port and vhost", () => {
    expect(maskUrl("amqp://admin:s3cret@rabbit.example:5672/orders")).toBe(
      "amqp://admin:***@rabbit.example:5672/orders",
    );
  });

  it("leaves a URL without a password as it is", () => {
    expect(maskUrl("amqp://rabbit.example:5672")).toBe("amqp://rabbit.example:5672");
  });

  it("masks an unparseable URL whole, since its password cannot be found", () => {
    expect(maskUrl("amqp://user:pa ss@")).toBe("<unparseable url>");
  });

  it("removes every occurrence of the URLs' passwords from a text, encoded and decoded", () => {
    const url = "amqp://admin:Secr3t%21pw@127.0.0.1:1/x";
    const text = "login as admin:Secr3t%21pw failed; password Secr3t!pw refused twice: Secr3t!pw";
    const masked = maskSecrets(text, [url]);
    expect(masked).toBe("login as admin:*** failed; password *** refused twice: ***");
    expect(masked).not.toContain("Secr3t");
  });

  it("masks the passwords of several URLs and ignores ones that are not URLs", () => {
    const masked = maskSecrets("a=one b=two", [
      "amqp://u:one@h",
      "http://m:two@h:15672",
      "not a url",
    ]);
    expect(masked).toBe("a=*** b=***");
  });

  it("changes nothing when no URL has a password", () => {
    expect(maskSecrets("guest@host", ["amqp://host"])).toBe("guest@host");
  });
});
