/**
 * Makes the broker hold what the file declares. The management API says what
 * exists; `planTopology` decides; this module performs the plan over AMQP.
 *
 * Conflicts are found before anything is declared, from the plan, and refuse
 * the whole apply: declaring the rest would leave a half-applied topology
 * whose bindings point at a queue with the wrong arguments. A conflict that
 * appears between planning and declaring (another process declared the
 * object first) surfaces as PRECONDITION_FAILED, which closes the channel:
 * it becomes a `WARREN_TOPOLOGY_CONFLICT` naming the object, the channel is
 * replaced, and the objects that depend on the failed one are skipped.
 * Nothing is ever deleted.
 */
import type { Channel } from "amqplib";
import { z } from "zod";
import {
  type BrokerEndpointOptions,
  type ResolvedEndpoint,
  resolveEndpoint,
  secretsOf,
} from "../connection/endpoint.ts";
import { brokerEndpointSchema } from "../connection/endpoint-options.ts";
import { openOneShotConnection, replyCode } from "../connection/one-shot.ts";
import { fixedHost, ReopeningChannel } from "../connection/reopening-channel.ts";
import { maskSecrets } from "../connection/url.ts";
import { ConnectionError, ErrorCode, TopologyError, WarrenError } from "../errors.ts";
import { ManagementClient } from "../management/client.ts";
import { nonEmptyString, resolveOptions } from "../options.ts";
import type { CompiledTopology } from "./model.ts";
import { observeTopology } from "./observe.ts";
import { type Plan, type PlanStep, planTopology } from "./plan.ts";
import { checkPlugins } from "./plugins.ts";
/** Options of {@link planAgainstBroker} and {@link applyTopology}. */
export interface TopologyTargetOptions extends BrokerEndpointOptions {
  /**
   * The vhost to plan or apply into.
   * @default the vhost in `url`'s path, else the topology's `vhost`
   */
  vhost?: string;
}

const applySchema = brokerEndpointSchema.extend({
  vhost: nonEmptyString().optional(),
  dryRun: z.boolean({ error: "true or false" }).optional(),
});

/** Options of {@link applyTopology}. */
export interface ApplyOptions extends TopologyTargetOptions {
  /**
   * Plan only: observe the broker and return the plan, declare nothing.
   * @default false
   */
  dryRun?: boolean;
}

/** What {@link applyTopology} did. */
export interface ApplyResult {
  vhost: string;
  dryRun: boolean;
  /** The plan apply executed (computed before declaring anything). */
  plan: Plan;
  /** Steps declared (or, on a dry run, that would be). */
  created: PlanStep[];
  unchanged: PlanStep[];
  /** Objects on the broker that the file does not declare; left alone. */
  notDeclared: PlanStep[];
  /** True when something was (or, on a dry run, would be) created. */
  changed: boolean;
}

/** The vhost a command targets: explicit option, then the URL's path, then the file. */
export function targetVhost(
  compiled: CompiledTopology,
  endpoint: ResolvedEndpoint,
  vhost: string | undefined,
): string {
  return vhost ?? endpoint.urlVhost ?? compiled.vhost;
}

function masker(options: BrokerEndpointOptions): (text: string) => string {
  const urls = secretsOf(options);
  return (text) => maskSecrets(text, urls);
}

/** Re-throws `error` with passwords masked from its message. */
function masked(error: unknown, mask: (text: string) => string): unknown {
  if (error instanceof Error) error.message = mask(error.message);
  return error;
}

/**
 * Observes the target vhost through the management API and plans the
 * topology against it. Throws `ConnectionError` when the management API is
 * unreachable or refuses the credentials.
 */
export async function planAgainstBroker(
  compiled: CompiledTopology,
  options: TopologyTargetOptions,
): Promise<Plan> {
  resolveOptions(applySchema, options, {
    context: "planAgainstBroker()",
    errorClass: TopologyError,
  });
  const mask = masker(options);
  try {
    const endpoint = await resolveEndpoint(options);
    const vhost = targetVhost(compiled, endpoint, options.vhost);
    const management = ManagementClient.fromEndpoint(endpoint);
    await checkPlugins(compiled, management);
    const observed = await observeTopology(management, vhost);
    return planTopology({ ...compiled, vhost }, observed);
  } catch (error) {
    throw masked(error, mask);
  }
}

function conflictError(plan: Plan): TopologyError {
  const conflicts = plan.steps.filter((s) => s.status === "conflict");
  const lines = conflicts.map((s) => `  ${s.kind} "${s.name}": ${s.detail}`);
  return new TopologyError(
    ErrorCode.WARREN_TOPOLOGY_CONFLICT,
    `apply refused: ${conflicts.length} object${conflicts.length === 1 ? "" : "s"} in vhost "${plan.vhost}" conflict with the file; nothing was declared\n${lines.join("\n")}`,
    {
      issues: conflicts.map((s) => ({
        path: `${s.kind}s.${JSON.stringify(s.name)}`,
        message: s.detail,
      })),
    },
  );
}

/**
 * Declares the compiled topology on the broker: creates the vhost when it is
 * missing (through the management API, granting the AMQP user full
 * permissions on it), then exchanges, exchange-to-exchange bindings, queues
 * and queue bindings over AMQP. Idempotent: a second run creates nothing.
 *
 * Throws `TopologyError` `WARREN_TOPOLOGY_CONFLICT` when an existing object
 * differs from the file (before declaring anything; the error lists each
 * property with both values), `TopologyError` `WARREN_TOPOLOGY_APPLY_FAILED`
 * when the broker refuses a declaration for another reason, and
 * `ConnectionError` when the broker cannot be reached, and
 * `WARREN_TOPOLOGY_PLUGIN_MISSING` (before anything is declared) when the
 * topology has partitioned queues and the broker lacks the
 * `rabbitmq_consistent_hash_exchange` plugin. Never deletes anything.
 */
export async function applyTopology(
  compiled: CompiledTopology,
  options: ApplyOptions,
): Promise<ApplyResult> {
  resolveOptions(applySchema, options, { context: "applyTopology()", errorClass: TopologyError });
  const mask = masker(options);
  try {
    const endpoint = await resolveEndpoint(options);
    const vhost = targetVhost(compiled, endpoint, options.vhost);
    const management = ManagementClient.fromEndpoint(endpoint);
    await checkPlugins(compiled, management);
    const observed = await observeTopology(management, vhost);
    const plan = planTopology({ ...compiled, vhost }, observed);
    if (plan.hasConflicts) throw conflictError(plan);

    const dryRun = options.dryRun ?? false;
    const creates = plan.steps.filter((s) => s.status === "create");
    const result: ApplyResult = {
      vhost,
      dryRun,
      plan,
      created: creates,
      unchanged: plan.steps.filter((s) => s.status === "unchanged"),
      notDeclared: plan.steps.filter((s) => s.status === "not-declared"),
      changed: creates.length > 0,
    };
    if (!dryRun) await executePlanSteps(plan, endpoint, management);
    return result;
  } catch (error) {
    throw masked(error, mask);
  }
}

/**
 * Performs the `create` steps of a conflict-free plan: creates the vhost if
 * the plan says so, then declares the rest in order. If the broker changed
 * since the plan and now refuses a declaration, throws
 * `WARREN_TOPOLOGY_CONFLICT` naming the object, after declaring what does not
 * depend on it. Internal: {@link applyTopology} plans and calls it.
 */
export async function executePlanSteps(
  plan: Plan,
  endpoint: ResolvedEndpoint,
  management: ManagementClient,
): Promise<void> {
  const creates = plan.steps.filter((s) => s.status === "create");
  if (creates.length === 0) return;
  if (creates.some((s) => s.kind === "vhost")) {
    await createVhost(management, plan.vhost, endpoint.amqpUsername);
  }
  await declare(endpoint, plan.vhost, creates);
}

async function createVhost(management: ManagementClient, vhost: string, user: string) {
  try {
    await management.createVhost(vhost);
    await management.setPermissions(vhost, user, { configure: ".*", write: ".*", read: ".*" });
  } catch (error) {
    if (error instanceof WarrenError && error.code === ErrorCode.WARREN_MANAGEMENT_AUTH) {
      throw new ConnectionError(
        ErrorCode.WARREN_MANAGEMENT_AUTH,
        `vhost "${vhost}" does not exist and the management user may not create it: ask an administrator to create it (rabbitmqctl add_vhost ${vhost}) and grant "${user}" permissions, or use an administrator in --management-url`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function declareStep(channel: Channel, step: PlanStep): Promise<void> {
  switch (step.kind) {
    case "vhost":
      return;
    case "exchange": {
      const e = step.desired!;
      await channel.assertExchange(e.name, e.type, {
        durable: e.durable,
        autoDelete: e.autoDelete,
        internal: e.internal,
        arguments: e.arguments,
      });
      return;
    }
    case "queue": {
      const q = step.desired!;
      await channel.assertQueue(q.name, {
        durable: q.durable,
        autoDelete: false,
        exclusive: false,
        arguments: q.arguments,
      });
      return;
    }
    case "binding": {
      const b = step.desired!;
      if (b.destinationType === "queue") {
        await channel.bindQueue(b.destination, b.source, b.routingKey, b.arguments);
      } else {
        await channel.bindExchange(b.destination, b.source, b.routingKey, b.arguments);
      }
      return;
    }
  }
}

function dependsOn(step: PlanStep, failed: Set<string>): boolean {
  if (step.kind !== "binding" || step.desired === undefined) return false;
  const b = step.desired;
  return failed.has(`exchange:${b.source}`) || failed.has(`${b.destinationType}:${b.destination}`);
}

async function declare(endpoint: ResolvedEndpoint, vhost: string, steps: PlanStep[]) {
  const connection = await openOneShotConnection(endpoint, vhost, "warren topology apply");
  connection.on("error", () => {
    // A connection-level error also fails the pending operation; handled there.
  });
  // One channel at a time, replaced after a declaration the broker refused
  // (which closes it).
  const slot = new ReopeningChannel({
    host: fixedHost(connection),
    create: (model) => model.createChannel(),
  });
  const conflicts: string[] = [];
  const failures: string[] = [];
  const failed = new Set<string>();
  try {
    for (const step of steps) {
      if (step.kind === "vhost") continue;
      if (dependsOn(step, failed)) {
        failures.push(`  binding "${step.name}": skipped, its exchange or queue failed`);
        continue;
      }
      let channel: Channel;
      try {
        channel = await slot.get();
      } catch (error) {
        throw new ConnectionError(
          ErrorCode.WARREN_BROKER_UNREACHABLE,
          `lost the broker while applying to vhost "${vhost}" (${(error as Error).message}); run apply again, it is idempotent`,
          { cause: error },
        );
      }
      try {
        await declareStep(channel, step);
      } catch (error) {
        slot.discard();
        failed.add(`${step.kind}:${step.name}`);
        const message = (error as Error).message;
        const code = replyCode(error);
        if (code === 406) {
          conflicts.push(
            `  ${step.kind} "${step.name}": the broker refused the declaration (${message}); it was changed since the plan: run plan to see the difference`,
          );
        } else if (code === 403) {
          failures.push(
            `  ${step.kind} "${step.name}": user "${endpoint.amqpUsername}" may not declare it (${message}): grant configure permission on the vhost`,
          );
        } else {
          failures.push(`  ${step.kind} "${step.name}": ${message}`);
        }
      }
    }
  } finally {
    await connection.close().catch(() => {
      // Already closed by the broker: nothing left to release.
    });
  }
  if (conflicts.length > 0) {
    throw new TopologyError(
      ErrorCode.WARREN_TOPOLOGY_CONFLICT,
      `apply stopped: ${conflicts.length} object${conflicts.length === 1 ? "" : "s"} in vhost "${vhost}" conflict with the file\n${[...conflicts, ...failures].join("\n")}`,
    );
  }
  if (failures.length > 0) {
    throw new TopologyError(
      ErrorCode.WARREN_TOPOLOGY_APPLY_FAILED,
      `apply to vhost "${vhost}" failed for ${failures.length} object${failures.length === 1 ? "" : "s"}\n${failures.join("\n")}`,
    );
  }
}
