import { compileTopology, loadTopology } from "../src/index.ts";

const topology = await loadTopology("topology/orders.yaml"); // Topology: ms, defaults applied
const compiled = compileTopology(topology); // exchanges, queues, bindings, retryPolicies
console.log(Object.keys(compiled.retryPolicies));
