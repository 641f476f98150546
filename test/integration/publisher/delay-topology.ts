/** The topology of the delayed-publish tests: exchange `events` with delays, queue `work`. */
import { compileTopology } from "../../../src/topology/compile.ts";
import { resolveTopology } from "../../../src/topology/load.ts";
import type { CompiledTopology } from "../../../src/topology/model.ts";

export function delayTopology(): CompiledTopology {
  return compileTopology(
    resolveTopology({
      exchanges: { events: { type: "topic", delays: ["1s", "5s", "1h"] } },
      queues: { work: { bindings: [{ exchange: "events", routingKey: "order.*" }] } },
    }),
  );
}
