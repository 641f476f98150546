/**
 * The diff between the compiled topology and the live vhost, as data. Pure:
 * no I/O, so every classification is unit-tested without a broker;
 * `applyTopology` executes the plan and the CLI prints it.
 *
 * Every object ends in one status:
 *
 * - `create`: declared in the file, absent on the broker.
 * - `unchanged`: present with the same properties and arguments.
 * - `conflict`: present with different immutable properties or arguments.
 *   RabbitMQ refuses a redeclare with other arguments (PRECONDITION_FAILED),
 *   and the only fix is to delete or rename the object, which warren never
 *   does on its own: a queue may hold messages.
 * - `not-declared`: on the broker only. Reported, never deleted.
 *
 * Arguments compare by JSON value and type: the broker stores `1000` and
 * `"1000"` as different values and refuses one as a redeclare of the other,
 * so the plan must not call them equal either.
 */
import type { BindingObject, CompiledTopology, ExchangeObject, QueueObject } from "./model.ts";
import type {
  ObservedArguments,
  ObservedBinding,
  ObservedExchange,
  ObservedQueue,
  ObservedTopology,
} from "./observe.ts";

export type PlanStatus = "create" | "unchanged" | "conflict" | "not-declared";

/** One property or argument whose value on the broker differs from the file's. */
export interface PlanDifference {
  /** `type`, `durable`, `auto_delete`, `internal`, or an argument key such as `x-message-ttl`. */
  property: string;
  /** Value in the file; undefined when the file does not set it. */
  desired: unknown;
  /** Value on the broker; undefined when the broker does not have it. */
  actual: unknown;
}

interface StepBase {
  /** Object name; for bindings `source -> destination "routing key"`. */
  name: string;
  status: PlanStatus;
  /** One line for humans: what the object is, or what differs and the way out. */
  detail: string;
  /** Empty unless `status` is `conflict`. */
  differences: PlanDifference[];
}

export interface VhostStep extends StepBase {
  kind: "vhost";
}
export interface ExchangeStep extends StepBase {
  kind: "exchange";
  /** The object to declare; undefined for `not-declared`. */
  desired: ExchangeObject | undefined;
}
export interface QueueStep extends StepBase {
  kind: "queue";
  desired: QueueObject | undefined;
  /** Messages the broker reports in the existing queue (undefined when it does not exist or has no stats yet). */
  messages: number | undefined;
}
export interface BindingStep extends StepBase {
  kind: "binding";
  desired: BindingObject | undefined;
}

export type PlanStep = VhostStep | ExchangeStep | QueueStep | BindingStep;

export interface PlanSummary {
  create: number;
  unchanged: number;
  conflict: number;
  notDeclared: number;
}

/** The plan of one vhost. Steps are in apply order: vhost, exchanges, exchange bindings, queues, queue bindings. */
export interface Plan {
  vhost: string;
  steps: PlanStep[];
  summary: PlanSummary;
  /** True when applying would create something. */
  hasChanges: boolean;
  /** True when some object conflicts: apply refuses the whole plan. */
  hasConflicts: boolean;
}

/** Stable JSON with sorted object keys, used to compare values by value and type. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** A value as the plan prints it: JSON, so `"1000"` and `1000` read differently. */
export function formatValue(value: unknown): string {
  return value === undefined ? "(not set)" : canonical(value);
}

function compareArguments(
  desired: Record<string, unknown>,
  actual: ObservedArguments,
): PlanDifference[] {
  const keys = [...new Set([...Object.keys(desired), ...Object.keys(actual)])].sort();
  const differences: PlanDifference[] = [];
  for (const key of keys) {
    if (canonical(desired[key]) !== canonical(actual[key])) {
      differences.push({ property: key, desired: desired[key], actual: actual[key] });
    }
  }
  return differences;
}

function compareProperties(pairs: [string, unknown, unknown][]): PlanDifference[] {
  return pairs
    .filter(([, desired, actual]) => canonical(desired) !== canonical(actual))
    .map(([property, desired, actual]) => ({ property, desired, actual }));
}

function describeDifferences(differences: PlanDifference[]): string {
  return differences
    .map((d) => `${d.property}: file ${formatValue(d.desired)}, broker ${formatValue(d.actual)}`)
    .join("; ");
}

function bindingName(b: {
  source: string;
  destination: string;
  destinationType: string;
  routingKey: string;
  arguments: Record<string, unknown>;
}): string {
  const target = b.destinationType === "exchange" ? `exchange ${b.destination}` : b.destination;
  const key = b.routingKey === "" ? "" : ` ${JSON.stringify(b.routingKey)}`;
  const args = Object.keys(b.arguments).length === 0 ? "" : ` ${canonical(b.arguments)}`;
  return `${b.source} -> ${target}${key}${args}`;
}

function bindingKey(b: BindingObject | ObservedBinding): string {
  return canonical([b.source, b.destinationType, b.destination, b.routingKey, b.arguments]);
}

function describeQueue(q: QueueObject): string {
  const ttl = q.arguments["x-message-ttl"];
  switch (q.role) {
    case "work":
      return `${q.type} work queue`;
    case "presence":
      return `${q.type} presence queue of ${q.owner} (no messages; one consumer per consuming process)`;
    case "partition":
      return `${q.type} partition of ${q.owner} (single active consumer; dead-letters to ${q.owner}.dlq)`;
    case "retry":
      return `${q.type} retry tier (waits ${formatValue(ttl)} ms, then back to ${q.owner})`;
    case "dlq":
      return `${q.type} dead-letter queue of ${q.owner}`;
    case "delay":
      return `${q.type} publish delay of exchange ${q.owner} (waits ${formatValue(ttl)} ms, then into ${q.owner} with its routing key)`;
  }
}

/** An exchange's type, and for the hash exchange of a partitioned queue what it hashes. */
function describeExchange(e: ExchangeObject): string {
  if (e.type !== "x-consistent-hash") return e.type;
  const hashed =
    typeof e.arguments["hash-header"] === "string"
      ? `header ${JSON.stringify(e.arguments["hash-header"])}`
      : e.arguments["hash-property"] === "message_id"
        ? "message_id"
        : "routing key";
  return `${e.type} (partitions by ${hashed})`;
}

function planExchange(desired: ExchangeObject, actual: ObservedExchange | undefined): ExchangeStep {
  const base = { kind: "exchange" as const, name: desired.name, desired };
  if (actual === undefined) {
    return { ...base, status: "create", detail: describeExchange(desired), differences: [] };
  }
  const differences = [
    ...compareProperties([
      ["type", desired.type, actual.type],
      ["durable", desired.durable, actual.durable],
      ["auto_delete", desired.autoDelete, actual.autoDelete],
      ["internal", desired.internal, actual.internal],
    ]),
    ...compareArguments(desired.arguments, actual.arguments),
  ];
  if (differences.length === 0) {
    return { ...base, status: "unchanged", detail: describeExchange(desired), differences };
  }
  return {
    ...base,
    status: "conflict",
    differences,
    detail: `${describeDifferences(differences)}. An exchange cannot be redeclared with other properties: delete the exchange on the broker (its bindings go with it) and apply again, or rename it in the file`,
  };
}

function planQueue(desired: QueueObject, actual: ObservedQueue | undefined): QueueStep {
  const base = { kind: "queue" as const, name: desired.name, desired };
  if (actual === undefined) {
    return {
      ...base,
      status: "create",
      detail: describeQueue(desired),
      differences: [],
      messages: undefined,
    };
  }
  const differences = [
    ...compareProperties([
      ["durable", desired.durable, actual.durable],
      ["auto_delete", false, actual.autoDelete],
    ]),
    ...compareArguments(desired.arguments, actual.arguments),
  ];
  if (differences.length === 0) {
    return {
      ...base,
      status: "unchanged",
      detail: describeQueue(desired),
      differences,
      messages: actual.messages,
    };
  }
  const holds =
    actual.messages === undefined
      ? "check how many messages it holds first"
      : actual.messages === 0
        ? "it is empty"
        : `it holds ${actual.messages} message${actual.messages === 1 ? "" : "s"}`;
  return {
    ...base,
    status: "conflict",
    differences,
    messages: actual.messages,
    detail: `${describeDifferences(differences)}. A queue's arguments are fixed at creation: delete the queue after draining it (${holds}) and apply again, or rename it in the file`,
  };
}

/**
 * Compares the compiled topology with the observed vhost and classifies every
 * exchange, queue and binding. Pure: `observed` must describe
 * `desired.vhost`.
 */
export function planTopology(desired: CompiledTopology, observed: ObservedTopology): Plan {
  const exchanges = new Map(observed.exchanges.map((e) => [e.name, e]));
  const queues = new Map(observed.queues.map((q) => [q.name, q]));
  const observedBindings = new Map(observed.bindings.map((b) => [bindingKey(b), b]));
  const desiredExchanges = new Set(desired.exchanges.map((e) => e.name));
  const desiredQueues = new Set(desired.queues.map((q) => q.name));
  const workQueues = new Set(
    desired.queues.filter((q) => q.role === "work" || q.role === "partition").map((q) => q.name),
  );

  const steps: PlanStep[] = [];
  steps.push({
    kind: "vhost",
    name: desired.vhost,
    status: observed.vhostExists ? "unchanged" : "create",
    detail: observed.vhostExists ? "exists" : "does not exist yet",
    differences: [],
  });

  for (const exchange of desired.exchanges) {
    steps.push(planExchange(exchange, exchanges.get(exchange.name)));
  }
  for (const exchange of observed.exchanges) {
    if (desiredExchanges.has(exchange.name)) continue;
    steps.push({
      kind: "exchange",
      name: exchange.name,
      status: "not-declared",
      desired: undefined,
      differences: [],
      detail: `${exchange.type}, on the broker only; warren never deletes it`,
    });
  }

  const seen = new Set<string>();
  const bindingSteps = (destinationType: "queue" | "exchange"): BindingStep[] => {
    const out: BindingStep[] = [];
    for (const binding of desired.bindings) {
      const key = bindingKey(binding);
      if (binding.destinationType !== destinationType || seen.has(key)) continue;
      seen.add(key);
      const exists = observedBindings.has(key);
      out.push({
        kind: "binding",
        name: bindingName(binding),
        status: exists ? "unchanged" : "create",
        desired: binding,
        differences: [],
        detail: "",
      });
    }
    for (const binding of observed.bindings) {
      if (binding.destinationType !== destinationType || seen.has(bindingKey(binding))) continue;
      out.push({
        kind: "binding",
        name: bindingName(binding),
        status: "not-declared",
        desired: undefined,
        differences: [],
        detail: "on the broker only; warren never deletes it",
      });
    }
    return out;
  };

  steps.push(...bindingSteps("exchange"));

  for (const queue of desired.queues) {
    steps.push(planQueue(queue, queues.get(queue.name)));
  }
  for (const queue of observed.queues) {
    if (desiredQueues.has(queue.name)) continue;
    const owner = [...workQueues].find((w) => queue.name.startsWith(`${w}.retry.`));
    const count =
      queue.messages === undefined
        ? ""
        : ` (${queue.messages} message${queue.messages === 1 ? "" : "s"})`;
    steps.push({
      kind: "queue",
      name: queue.name,
      status: "not-declared",
      desired: undefined,
      messages: queue.messages,
      differences: [],
      detail:
        owner === undefined
          ? `${queue.type}, on the broker only${count}; warren never deletes it`
          : `retry tier of ${owner} no longer in the file${count}; delete it by hand once it is empty`,
    });
  }

  steps.push(...bindingSteps("queue"));

  const summary: PlanSummary = { create: 0, unchanged: 0, conflict: 0, notDeclared: 0 };
  for (const step of steps) {
    if (step.status === "not-declared") summary.notDeclared += 1;
    else summary[step.status] += 1;
  }
  return {
    vhost: desired.vhost,
    steps,
    summary,
    hasChanges: summary.create > 0,
    hasConflicts: summary.conflict > 0,
  };
}
