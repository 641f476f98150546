/**
 * `warren worker <module>`: runs the workers a module exports (see
 * src/worker/define-worker.ts) the way `celery worker` or `rq worker` run
 * task queues in a container. Flags, each with an environment variable for
 * container specs, set the topology, concurrency, log level, health port and
 * drain deadline; logs are JSON lines on stdout.
 *
 * The CLI owns the process here: SIGTERM or SIGINT starts a drain (readiness
 * goes false, consumers stop, in-flight handlers get `--drain-timeout-ms`);
 * a second signal gives up at once. SIGUSR1 pauses every consumer and
 * SIGUSR2 resumes them (and resets a tripped kill switch), for an operator
 * who knows a dependency is down or back; readiness stays true while paused.
 * Both are handled from before the worker starts, so neither can kill a
 * starting process (SIGUSR2's default action) nor open Node's inspector
 * (SIGUSR1's). Exit codes: 0 drained completely,
 * 2 handlers were still running at the deadline (their messages went back to
 * the queue), 1 the worker could not start.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Logger, pino } from "pino";
import { ConsumeError, ErrorCode } from "../errors.ts";
import { loadTopology } from "../topology/load.ts";
import { workersOf } from "../worker/define-worker.ts";
import { type RunningWorker, runWorker, runWorkerDefaults } from "../worker/run-worker.ts";
import {
  amqpClientFlags,
  type Command,
  type CommandContext,
  clientEndpoint,
  processSignals,
  stringFlag,
  UsageError,
} from "./command.ts";

/** How much longer than the drain deadline the whole shutdown may take. */
const SHUTDOWN_GRACE_MS = 15_000;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** `$WARREN_<suffix>`: the environment variable behind a flag. */
const envName = (suffix: string) => `WARREN_${suffix}`;

function setting(context: CommandContext, flag: string, env: string): string | undefined {
  return stringFlag(context.values, flag) ?? context.io.env[envName(env)];
}

function integerSetting(
  context: CommandContext,
  flag: string,
  env: string,
  min: number,
): number | undefined {
  const text = setting(context, flag, env);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(
      `--${flag} (or $${envName(env)}) must be an integer >= ${min}, got "${text}"`,
    );
  }
  return value;
}

async function importModule(path: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConsumeError(
      ErrorCode.WARREN_WORKER_INVALID,
      `cannot load worker module ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * SIGUSR1 pauses the worker and SIGUSR2 resumes it. A signal that arrives
 * while the worker starts is remembered and applied once it runs; one that
 * arrives while it drains is logged and ignored.
 */
function operatorSignals(logger: Logger) {
  let worker: RunningWorker | undefined;
  let pauseWhenStarted = false;
  let draining = false;
  const pause = (running: RunningWorker) =>
    running.pause().catch((error: unknown) => logger.error({ err: error }, "pause failed"));
  const onPause = () => {
    if (draining) return logger.info("SIGUSR1 ignored: draining");
    logger.info("SIGUSR1: pausing every consumer (SIGUSR2 resumes)");
    if (worker === undefined) pauseWhenStarted = true;
    else pause(worker);
  };
  const onResume = () => {
    if (draining) return logger.info("SIGUSR2 ignored: draining");
    logger.info("SIGUSR2: resuming every consumer");
    pauseWhenStarted = false;
    worker?.resume();
  };
  process.on("SIGUSR1", onPause);
  process.on("SIGUSR2", onResume);
  return {
    attach(running: RunningWorker) {
      worker = running;
      if (pauseWhenStarted) pause(running);
    },
    /** Draining from now on; the handlers stay, so that a late signal cannot kill the process. */
    detach() {
      draining = true;
    },
  };
}

export const workerCommand: Command = {
  summary: "run the workers a module exports, with health, metrics and a drain on SIGTERM",
  usage: "<module> --topology <file> [--concurrency n] [--health-port p]",
  help: [
    "<module>                    JS/TS module exporting defineWorker(...) (default export, a list, or named)",
    "--topology <file>           topology file ($WARREN_TOPOLOGY)",
    "--concurrency <n>           handlers at once per queue, overriding the module's ($WARREN_CONCURRENCY)",
    "--log-level <level>         fatal|error|warn|info|debug|trace|silent ($WARREN_LOG_LEVEL, default info)",
    "--health-port <port>        /healthz /readyz /metrics port, 0 = any ($WARREN_HEALTH_PORT, default 9464)",
    "--health-host <addr>        interface to bind ($WARREN_HEALTH_HOST, default 0.0.0.0 for probes)",
    "--drain-timeout-ms <ms>     how long SIGTERM waits for handlers ($WARREN_DRAIN_TIMEOUT_MS, default 30000)",
    "--tracing                   OpenTelemetry spans (needs @opentelemetry/api and an SDK)",
    "Signals: SIGTERM/SIGINT drain (twice: stop at once), SIGUSR1 pauses every consumer, SIGUSR2 resumes.",
    "Exit codes: 0 drained completely, 1 could not start, 2 handlers still running at the drain deadline.",
  ],
  positionals: ["module"],
  // The topology names the vhost.
  globals: amqpClientFlags,
  options: {
    topology: { type: "string" },
    concurrency: { type: "string" },
    "log-level": { type: "string" },
    "health-port": { type: "string" },
    "health-host": { type: "string" },
    "drain-timeout-ms": { type: "string" },
    tracing: { type: "boolean" },
  },
  async run(context: CommandContext): Promise<number> {
    const { io, out } = context;
    const topologyFile = setting(context, "topology", "TOPOLOGY");
    if (topologyFile === undefined) {
      throw new UsageError("--topology <file> (or $WARREN_TOPOLOGY) is required");
    }
    const level = setting(context, "log-level", "LOG_LEVEL") ?? "info";
    if (!LOG_LEVELS.includes(level)) {
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
    }
    const concurrency = integerSetting(context, "concurrency", "CONCURRENCY", 1);
    const healthPort = integerSetting(context, "health-port", "HEALTH_PORT", 0);
    const drainTimeoutMs =
      integerSetting(context, "drain-timeout-ms", "DRAIN_TIMEOUT_MS", 0) ??
      runWorkerDefaults.drainTimeoutMs;
    const healthHost = setting(context, "health-host", "HEALTH_HOST");
    const modulePath = context.positionals[0]!;

    const endpoint = await clientEndpoint(context.values, io.env);
    const topology = await loadTopology(topologyFile, { env: io.env });
    const workers = workersOf(await importModule(modulePath), modulePath);
    const logger = pino({ name: "warren-worker", level });

    // From here the worker owns SIGINT as well as SIGTERM (see run.ts).
    processSignals.owned = true;
    const signalled = Promise.withResolvers<NodeJS.Signals>();
    const onSignal = (signal: NodeJS.Signals) => signalled.resolve(signal);
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    const control = operatorSignals(logger);

    const worker = await runWorker({
      ...endpoint,
      topology,
      workers,
      drainTimeoutMs,
      logger,
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(healthPort === undefined ? {} : { healthPort }),
      ...(healthHost === undefined ? {} : { healthHost }),
      ...(context.values.tracing === true ? { tracing: true } : {}),
    });
    control.attach(worker);
    logger.info(
      { queues: workers.map((w) => w.queue), health: worker.health.url, pid: process.pid },
      "worker started",
    );
    const signal = await signalled.promise;
    control.detach();
    logger.info({ signal }, "signal received: draining (send it again to stop at once)");
    const giveUp = (why: string) => {
      logger.error(why);
      process.exit(2);
    };
    process.once("SIGTERM", () => giveUp("second signal: stopping without draining"));
    process.once("SIGINT", () => giveUp("second signal: stopping without draining"));
    const hardStop = setTimeout(
      () => giveUp("shutdown took too long: stopping without draining"),
      drainTimeoutMs + SHUTDOWN_GRACE_MS,
    );
    hardStop.unref();
    const result = await worker.stop();
    clearTimeout(hardStop);
    logger.info(result, result.completed ? "drained: exiting" : "drain deadline passed: exiting");
    out.result({ ok: result.completed, ...result });
    return result.completed ? 0 : 2;
  },
};
