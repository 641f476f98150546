import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import {
  allowedHosts,
  checkApiRequest,
  checkHost,
  randomToken,
  TOKEN_HEADER,
  tokenMatches,
} from "../../../src/console/security.ts";

const token = randomToken();
const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const good = { host: "127.0.0.1:8080", [TOKEN_HEADER]: token, "content-type": "application/json" };

function refusal(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`;
  }
}

describe("console request checks", () => {
  it("makes tokens of 32 random bytes, compared exactly", () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(token);
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token}x`, token)).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
  });

  it("accepts a same-origin JSON action with the token", () => {
    expect(refusal(() => checkApiRequest(request(good), token, true))).toBeUndefined();
    const sameOrigin = {
      ...good,
      origin: "http://127.0.0.1:8080",
      "sec-fetch-site": "same-origin",
    };
    expect(refusal(() => checkApiRequest(request(sameOrigin), token, true))).toBeUndefined();
  });

  it("refuses a request without the token, with a wrong one, from another origin or site, or an action that is not JSON", () => {
    const { [TOKEN_HEADER]: _, ...noToken } = good;
    expect(refusal(() => checkApiRequest(request(noToken), token, false))).toMatch(
      /^WARREN_CONSOLE_FORBIDDEN: missing or wrong x-warren-token header/,
    );
    expect(
      refusal(() => checkApiRequest(request({ ...good, [TOKEN_HEADER]: "nope" }), token, false)),
    ).toMatch(/^WARREN_CONSOLE_FORBIDDEN/);
    expect(
      refusal(() =>
        checkApiRequest(request({ ...good, origin: "http://evil.example" }), token, true),
      ),
    ).toBe("WARREN_CONSOLE_FORBIDDEN: cross-origin request from http://evil.example refused");
    expect(
      refusal(() =>
        checkApiRequest(request({ ...good, "sec-fetch-site": "cross-site" }), token, true),
      ),
    ).toBe("WARREN_CONSOLE_FORBIDDEN: cross-site request (cross-site) refused");
    expect(
      refusal(() =>
        checkApiRequest(request({ ...good, "content-type": "text/plain" }), token, true),
      ),
    ).toBe("WARREN_CONSOLE_FORBIDDEN: actions must be sent as application/json");
  });

  it("accepts only its own host names (no DNS rebinding), any when listening on every interface", () => {
    const hosts = allowedHosts("127.0.0.1", 8080);
    expect(hosts).toEqual(["127.0.0.1:8080", "localhost:8080"]);
    expect(refusal(() => checkHost(request({ host: "localhost:8080" }), hosts))).toBeUndefined();
    expect(refusal(() => checkHost(request({ host: "rebound.example:8080" }), hosts))).toMatch(
      /^WARREN_CONSOLE_FORBIDDEN: requests must be addressed to 127.0.0.1:8080 or localhost:8080/,
    );
    expect(allowedHosts("::1", 9000)).toEqual(["[::1]:9000", "localhost:9000"]);
    expect(allowedHosts("0.0.0.0", 9000)).toEqual([]);
  });
});
