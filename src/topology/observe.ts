/**
 * Reads what a vhost holds, through the management API, into an
 * {@link ObservedTopology} that `planTopology` compares with the file.
 *
 * Normalisation happens here, once: the default exchange and the `amq.*`
 * exchanges belong to the broker, server-named (`amq.gen-*`) and exclusive
 * queues belong to connections, and the default exchange's implicit bindings
 * are not bindings anyone declared, so all of those are left out. A queue's
 * type is copied into `x-queue-type` when the broker omits it (a classic queue
 * declared without the argument), because the compiled topology always
 * carries it.
 */
import type {
  ManagementBinding,
  ManagementClient,
  ManagementExchange,
  ManagementQueue,
} from "../management/client.ts";

/** Argument table as the broker reports it; values keep their JSON types. */
export type ObservedArguments = Record<string, unknown>;

export interface ObservedExchange {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: ObservedArguments;
}

export interface ObservedQueue {
  name: string;
  /** `classic`, `quorum` or `stream`. */
  type: string;
  durable: boolean;
  autoDelete: boolean;
  /** Ready plus unacknowledged messages; undefined when the broker has no stats yet. */
  messages: number | undefined;
  /** Includes `x-queue-type`. */
  arguments: ObservedArguments;
}

export interface ObservedBinding {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  arguments: ObservedArguments;
}

/** What one vhost of the live broker holds, normalised for planning. */
export interface ObservedTopology {
  vhost: string;
  /** False when the vhost does not exist (then every list is empty). */
  vhostExists: boolean;
  exchanges: ObservedExchange[];
  queues: ObservedQueue[];
  bindings: ObservedBinding[];
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

/** Normalises raw management API listings of one vhost (pure). */
export function normaliseObserved(
  vhost: string,
  raw: {
    exchanges: ManagementExchange[];
    queues: ManagementQueue[];
    bindings: ManagementBinding[];
  },
): ObservedTopology {
  const exchanges = raw.exchanges
    .filter((e) => e.name !== "" && !e.name.startsWith("amq."))
    .map(
      (e): ObservedExchange => ({
        name: e.name,
        type: e.type,
        durable: e.durable,
        autoDelete: e.auto_delete,
        internal: e.internal,
        arguments: { ...e.arguments },
      }),
    )
    .sort(byName);
  const queues = raw.queues
    .filter((q) => !q.name.startsWith("amq.") && !q.exclusive)
    .map((q): ObservedQueue => {
      const type =
        typeof q.arguments["x-queue-type"] === "string"
          ? (q.arguments["x-queue-type"] as string)
          : (q.type ?? "classic");
      return {
        name: q.name,
        type,
        durable: q.durable,
        autoDelete: q.auto_delete,
        messages: q.messages,
        arguments: { "x-queue-type": type, ...q.arguments },
      };
    })
    .sort(byName);
  const bindings = raw.bindings
    .filter((b) => b.source !== "")
    .map(
      (b): ObservedBinding => ({
        source: b.source,
        destination: b.destination,
        destinationType: b.destination_type,
        routingKey: b.routing_key,
        arguments: { ...b.arguments },
      }),
    );
  return { vhost, vhostExists: true, exchanges, queues, bindings };
}

/**
 * Reads the vhost's exchanges, queues and bindings. A vhost that does not
 * exist is observed as empty with `vhostExists: false`.
 */
export async function observeTopology(
  client: ManagementClient,
  vhost: string,
): Promise<ObservedTopology> {
  if (!(await client.vhostExists(vhost))) {
    return { vhost, vhostExists: false, exchanges: [], queues: [], bindings: [] };
  }
  const [exchanges, queues, bindings] = await Promise.all([
    client.listExchanges(vhost),
    client.listQueues(vhost),
    client.listBindings(vhost),
  ]);
  return normaliseObserved(vhost, { exchanges, queues, bindings });
}
