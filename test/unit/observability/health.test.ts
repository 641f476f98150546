import { Counter, Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  type HealthServer,
  type Readiness,
  serveHealth,
} from "../../../src/observability/health.ts";

describe("serveHealth", () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("answers liveness always and readiness from the check, with the reasons", async () => {
    let readiness: Readiness = { ready: false, reasons: ["consumer connection is reconnecting"] };
    server = await serveHealth({ registry: new Registry(), readiness: () => readiness, port: 0 });

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual(readiness);

    readiness = { ready: true, reasons: [] };
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it("serves the caller's registry, not the global one", async () => {
    const registry = new Registry();
    new Counter({ name: "only_in_this_registry_total", help: "test", registers: [registry] }).inc(
      3,
    );
    server = await serveHealth({
      registry,
      readiness: () => ({ ready: true, reasons: [] }),
      port: 0,
    });

    const body = await (await fetch(`${server.url}/metrics`)).text();
    expect(body).toContain("only_in_this_registry_total 3");
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});
