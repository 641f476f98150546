import { describe, expect, it } from "vitest";
import { connect } from "../../../src/client.ts";
import { resolveConnectOptions } from "../../../src/connect-options.ts";
import { startConsole } from "../../../src/console/server.ts";
import { resolveConsumeOptions } from "../../../src/consumer/options.ts";
import { inspectDeadLetters } from "../../../src/dlq/inspect.ts";
import { purgeDeadLetters } from "../../../src/dlq/purge.ts";
import { replayDeadLetters } from "../../../src/dlq/replay.ts";
import { ConsumeError, ErrorCode, type TopologyError, WarrenError } from "../../../src/errors.ts";
import { IdempotencyError } from "../../../src/idempotency/errors.ts";
import { createIdempotencyGuard } from "../../../src/idempotency/guard.ts";
import { createMemoryIdempotencyStore } from "../../../src/idempotency/memory-store.ts";
import { createPostgresIdempotencyStore } from "../../../src/idempotency/postgres-store.ts";
import { serveHealth } from "../../../src/observability/health.ts";
import { createMetrics } from "../../../src/observability/metrics.ts";
import { applyTopology, planAgainstBroker } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import type { RetryPolicy } from "../../../src/topology/model.ts";

// Every options object is checked once, at the boundary: each bad value of
// each numeric option is refused with WARREN_INVALID_OPTIONS, naming the
// option's path, the value given and what is allowed. Nothing here reaches a
// broker: the port-1 URL would fail if anything tried.
const url = "amqp://guest:guest@127.0.0.1:1";
const policy: RetryPolicy = { queue: "q", maxAttempts: 1, tiers: [], deadLetterQueue: "q.dlq" };

/** Bad values of an integer option whose smallest allowed value is `min`. */
function badIntegers(min: number): unknown[] {
  return [min - 1, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY, "10", null];
}

function expectInvalid(run: () => unknown, path: string, value: unknown, errorClass = WarrenError) {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(errorClass);
  const error = thrown as WarrenError;
  expect(error.code).toBe(ErrorCode.WARREN_INVALID_OPTIONS);
  expect(error.message).toContain(`option ${path} must be `);
  expect(error.message).toContain(
    `got ${typeof value === "string" ? `"${value}"` : String(value)}`,
  );
}

async function expectRejectsInvalid(
  run: () => Promise<unknown>,
  path: string,
  errorClass: abstract new (...args: never[]) => Error = WarrenError,
) {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(errorClass);
  expect((error as WarrenError).code).toBe(ErrorCode.WARREN_INVALID_OPTIONS);
  expect((error as WarrenError).message).toContain(`option ${path} must be `);
}

describe("connect options", () => {
  it("rejects publisher.maxInFlight: 0 at once, before connecting", async () => {
    const started = Date.now();
    await expect(connect({ url, publisher: { maxInFlight: 0 } })).rejects.toMatchObject({
      code: ErrorCode.WARREN_INVALID_OPTIONS,
      message: "connect(): option publisher.maxInFlight must be an integer >= 1, got 0",
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  const numeric: [string, number, (value: unknown) => object][] = [
    ["heartbeatSeconds", 0, (v) => ({ heartbeatSeconds: v })],
    ["initialConnectDeadlineMs", 0, (v) => ({ initialConnectDeadlineMs: v })],
    ["connectTimeoutMs", 1, (v) => ({ connectTimeoutMs: v })],
    ["backoff.initialDelayMs", 1, (v) => ({ backoff: { initialDelayMs: v } })],
    ["backoff.maxDelayMs", 1, (v) => ({ backoff: { maxDelayMs: v } })],
    ["publisher.timeoutMs", 1, (v) => ({ publisher: { timeoutMs: v } })],
    ["publisher.maxInFlight", 1, (v) => ({ publisher: { maxInFlight: v } })],
    ["publisher.maxQueued", 0, (v) => ({ publisher: { maxQueued: v } })],
    ["publisher.maxBytes", 1, (v) => ({ publisher: { maxBytes: v } })],
    ["publisher.blockedTimeoutMs", 0, (v) => ({ publisher: { blockedTimeoutMs: v } })],
  ];
  for (const [path, min, options] of numeric) {
    it.each(badIntegers(min))(`refuses ${path}: %s`, (value) => {
      expectInvalid(() => resolveConnectOptions({ url, ...options(value) }), path, value);
    });
  }

  it.each([0.5, 0, -1, Number.NaN])("refuses backoff.multiplier: %s", (value) => {
    expectInvalid(
      () => resolveConnectOptions({ url, backoff: { multiplier: value } }),
      "backoff.multiplier",
      value,
    );
  });

  it("refuses a missing or empty url", () => {
    expectInvalid(() => resolveConnectOptions({ url: "" }), "url", "");
    expect(() => resolveConnectOptions({} as never)).toThrow(/option url must be a broker URL/);
  });

  it("fills in the defaults and freezes the result", () => {
    const resolved = resolveConnectOptions({ url, backoff: { maxDelayMs: 500 } });
    expect(resolved).toMatchObject({
      urls: [url],
      heartbeatSeconds: 10,
      backoff: { initialDelayMs: 100, maxDelayMs: 500, multiplier: 2 },
      publisher: { maxInFlight: 1000, maxQueued: 100_000, timeoutMs: 10_000 },
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.backoff)).toBe(true);
    expect(Object.isFrozen(resolved.publisher)).toBe(true);
  });

  it("does not freeze objects it passes through", () => {
    const socketOptions = { noDelay: true };
    resolveConnectOptions({ url, socketOptions });
    expect(Object.isFrozen(socketOptions)).toBe(false);
  });
});

describe("consume options", () => {
  const numeric: [string, number][] = [
    ["concurrency", 1],
    ["prefetch", 1],
    ["timeoutMs", 0],
    ["maxBytes", 1],
    ["drainTimeoutMs", 0],
    ["resubscribeMaxDelayMs", 1],
    ["requeueDelayMs", 0],
    ["depthIntervalMs", 0],
    ["maxUncountedRetries", 0],
  ];
  for (const [name, min] of numeric) {
    it.each(badIntegers(min))(`refuses ${name}: %s as a ConsumeError`, (value) => {
      expectInvalid(
        () => resolveConsumeOptions(policy, { [name]: value }),
        name,
        value,
        ConsumeError,
      );
    });
  }
});

describe("kill switch options", () => {
  const numeric: [string, number][] = [
    ["minMessages", 1],
    ["windowMs", 1],
    ["cooldownMs", 0],
    ["probeMessages", 1],
  ];
  for (const [name, min] of numeric) {
    it.each(badIntegers(min))(`refuses killSwitch.${name}: %s as a ConsumeError`, (value) => {
      expectInvalid(
        () => resolveConsumeOptions(policy, { killSwitch: { [name]: value } }),
        `killSwitch.${name}`,
        value,
        ConsumeError,
      );
    });
  }
});

describe("idempotency options", () => {
  const store = createMemoryIdempotencyStore();
  it.each(["leaseMs", "retentionMs"])("refuses every bad %s of the guard", (name) => {
    for (const value of badIntegers(1)) {
      expectInvalid(
        () => createIdempotencyGuard({ store, [name]: value }),
        `idempotency.${name}`,
        value,
        IdempotencyError,
      );
    }
  });

  it.each(badIntegers(1))("refuses maxKeys: %s of the memory store", (value) => {
    expectInvalid(
      () => createMemoryIdempotencyStore({ maxKeys: value as number }),
      "maxKeys",
      value,
      IdempotencyError,
    );
  });

  const pool = { query: async () => ({ rows: [], rowCount: 0 }) } as never;
  it.each(badIntegers(1))("refuses purgeBatchSize: %s of the PostgreSQL store", (value) => {
    expectInvalid(
      () => createPostgresIdempotencyStore({ pool, purgeBatchSize: value as number }),
      "purgeBatchSize",
      value,
      IdempotencyError,
    );
  });

  it("refuses a PostgreSQL store without a pool, and a table that is not an identifier", () => {
    expect(() => createPostgresIdempotencyStore({} as never)).toThrow(
      /option pool must be a pg Pool/,
    );
    expectInvalid(
      () => createPostgresIdempotencyStore({ pool, table: "a;drop" }),
      "table",
      "a;drop",
      IdempotencyError,
    );
  });
});

describe("dead-letter options", () => {
  const target = { url, queue: "q" };
  it.each(badIntegers(1))("refuses limit and previewBytes: %s", async (value) => {
    await expectRejectsInvalid(
      () => inspectDeadLetters({ ...target, limit: value as number }),
      "limit",
    );
    await expectRejectsInvalid(
      () => inspectDeadLetters({ ...target, previewBytes: value as number }),
      "previewBytes",
    );
    await expectRejectsInvalid(
      () => replayDeadLetters({ ...target, limit: value as number }),
      "limit",
    );
    await expectRejectsInvalid(
      () => replayDeadLetters({ ...target, confirmTimeoutMs: value as number }),
      "confirmTimeoutMs",
    );
  });

  it.each(badIntegers(1))("refuses timeoutMs: %s of the endpoint", async (value) => {
    await expectRejectsInvalid(
      () => purgeDeadLetters({ ...target, yes: true, timeoutMs: value as number }),
      "timeoutMs",
    );
  });
});

describe("health server options", () => {
  const registry = createMetrics().registry;
  const readiness = () => ({ ready: true, reasons: [] });
  it.each([-1, 65_536, 1.5, Number.NaN, "9464"])("refuses port: %s", async (value) => {
    await expectRejectsInvalid(
      () => serveHealth({ registry, readiness, port: value as number }),
      "port",
    );
  });
});

describe("console options", () => {
  it.each([-1, 65_536, 1.5, Number.NaN, "8080"])("refuses port: %s", async (value) => {
    await expectRejectsInvalid(() => startConsole({ url, port: value as number }), "port");
  });

  it("refuses a refreshMs under 500 and a short token as a ConsoleError, before listening", async () => {
    await expectRejectsInvalid(() => startConsole({ url, refreshMs: 100 }), "refreshMs");
    const error = (await startConsole({ url, token: "short" }).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe("ConsoleError");
    expect(error.message).toBe(
      'startConsole(): option token must be a string of at least 16 characters, got "short"',
    );
  });
});

describe("apply and plan options", () => {
  const compiled = compileTopology({ vhost: "/", exchanges: {}, queues: {} } as never);
  it.each(badIntegers(1))("refuses timeoutMs: %s", async (value) => {
    await expectRejectsInvalid(
      () => applyTopology(compiled, { url, timeoutMs: value as number }),
      "timeoutMs",
    );
    await expectRejectsInvalid(
      () => planAgainstBroker(compiled, { url, timeoutMs: value as number }),
      "timeoutMs",
    );
  });

  it.each([[[]], [42]])("refuses url: %j (not a URL or a list of them)", async (value) => {
    await expectRejectsInvalid(() => planAgainstBroker(compiled, { url: value as never }), "url");
  });

  it("names the entry of a URL list that is not a URL", async () => {
    await expect(planAgainstBroker(compiled, { url: [url, ""] })).rejects.toThrow(/option url\.1 /);
  });

  it.each([[[]], [""]])("refuses managementUrl: %j", async (value) => {
    await expectRejectsInvalid(
      () => planAgainstBroker(compiled, { url, managementUrl: value as never }),
      "managementUrl",
    );
  });

  it("refuses a non-boolean dryRun as a TopologyError", async () => {
    const error = (await applyTopology(compiled, { url, dryRun: "yes" as never }).catch(
      (e: unknown) => e,
    )) as TopologyError;
    expect(error.name).toBe("TopologyError");
    expect(error.message).toBe('applyTopology(): option dryRun must be true or false, got "yes"');
  });
});
