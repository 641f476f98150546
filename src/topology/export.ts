/**
 * The compiled topology as a RabbitMQ definitions document, the format of
 * `rabbitmqctl import_definitions`, `POST /api/definitions` and the
 * management UI's import. Importing it yields the same objects, with the same
 * arguments, as `applyTopology`.
 *
 * Every object carries its `vhost`, so the document works both for a
 * whole-broker import and for `POST /api/definitions/{vhost}`. Users,
 * permissions and policies are not part of a topology and are left out.
 */
import type { BrokerArguments, CompiledTopology } from "./model.ts";

export interface DefinitionsExchange {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: BrokerArguments;
}

export interface DefinitionsQueue {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: BrokerArguments;
}

export interface DefinitionsBinding {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: BrokerArguments;
}

/** A RabbitMQ definitions document (the subset a topology defines). */
export interface Definitions {
  rabbit_version?: string;
  vhosts: { name: string }[];
  exchanges: DefinitionsExchange[];
  queues: DefinitionsQueue[];
  bindings: DefinitionsBinding[];
}

/** Options of {@link exportDefinitions}. */
export interface ExportOptions {
  /** Written as `rabbit_version`; omitted when not given. */
  rabbitVersion?: string;
}

/** Converts a compiled topology to a RabbitMQ definitions document. */
export function exportDefinitions(
  compiled: CompiledTopology,
  options: ExportOptions = {},
): Definitions {
  const vhost = compiled.vhost;
  const definitions: Definitions = {
    vhosts: [{ name: vhost }],
    exchanges: compiled.exchanges.map((e) => ({
      name: e.name,
      vhost,
      type: e.type,
      durable: e.durable,
      auto_delete: e.autoDelete,
      internal: e.internal,
      arguments: { ...e.arguments },
    })),
    queues: compiled.queues.map((q) => ({
      name: q.name,
      vhost,
      durable: q.durable,
      auto_delete: false,
      arguments: { ...q.arguments },
    })),
    bindings: compiled.bindings.map((b) => ({
      source: b.source,
      vhost,
      destination: b.destination,
      destination_type: b.destinationType,
      routing_key: b.routingKey,
      arguments: { ...b.arguments },
    })),
  };
  return options.rabbitVersion === undefined
    ? definitions
    : { rabbit_version: options.rabbitVersion, ...definitions };
}
