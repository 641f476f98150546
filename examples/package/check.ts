// Type-checked by scripts/check-package.sh in an empty project that installed
// the packed tarball: it must compile against the shipped .d.ts files alone.
// (Not imported by the repository's own typecheck: "warren" resolves only
// there.)
import { type ConnectOptions, connect, ErrorCode, loadTopology, WarrenError } from "warren";
import { type Broker, findOrStartBroker } from "warren/testing";

export async function run(broker: Broker): Promise<void> {
  const options: ConnectOptions = {
    url: broker.url,
    topology: await loadTopology("topology.yaml"),
    publisher: { maxInFlight: 10 },
  };
  const warren = await connect(options);
  try {
    await warren.publish("orders.created", { id: 1 });
  } catch (error) {
    if (error instanceof WarrenError && error.code === ErrorCode.WARREN_PUBLISH_TIMEOUT) return;
    throw error;
  } finally {
    await warren.close();
  }
}

// @ts-expect-error send(envelope) is internal: stripped from the shipped types.
export const send = (await connect({ url: "amqp://localhost" })).send;

export const start: typeof findOrStartBroker = findOrStartBroker;
