import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

// Heap measured after a full collection: what the code under test retains,
// not the garbage V8 has not collected yet (which varies run to run).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Bytes of heap still reachable after a full garbage collection. */
export function retainedHeapBytes(): number {
  gc();
  return process.memoryUsage().heapUsed;
}
