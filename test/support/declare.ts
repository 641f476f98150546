/**
 * Declares a compiled topology over plain AMQP, for tests on a broker
 * without the management plugin (the throwaway nodes). `warren topology
 * apply` does the same after planning against the management API.
 */
import type { Channel } from "amqplib";
import type { CompiledTopology } from "../../src/topology/model.ts";

export async function declareCompiled(channel: Channel, compiled: CompiledTopology): Promise<void> {
  for (const e of compiled.exchanges) {
    await channel.assertExchange(e.name, e.type, {
      durable: e.durable,
      autoDelete: e.autoDelete,
      internal: e.internal,
      arguments: e.arguments,
    });
  }
  for (const q of compiled.queues) {
    await channel.assertQueue(q.name, { durable: true, arguments: q.arguments });
  }
  for (const b of compiled.bindings) {
    if (b.destinationType === "queue") {
      await channel.bindQueue(b.destination, b.source, b.routingKey, b.arguments);
    } else {
      await channel.bindExchange(b.destination, b.source, b.routingKey, b.arguments);
    }
  }
}
