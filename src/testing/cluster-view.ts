/**
 * One node's account of its cluster, read from its management API
 * (`GET /api/nodes`): which nodes it lists, which of them it sees running,
 * and which it reports a network partition with. `LocalCluster` reads it
 * to know when a forming cluster has every node and when a faulted one is
 * whole again; nodes can disagree, so each is asked on its own.
 */
import { managementRequest } from "./management.ts";

export interface NodeView {
  /** Every node listed, every one running, no partition reported. */
  whole: boolean;
  /** Nodes it lists as running. */
  running: number;
  /** Nodes it lists as not running. */
  down: number;
  /** For failure messages: "whole", or what is missing. */
  text: string;
}

/**
 * What the node at `managementUrl` reports about a cluster of
 * `clusterSize` nodes. A node that does not answer (or answers with an
 * error) reports nothing: `whole` false, 0 running, 0 down.
 */
export async function readNodeView(managementUrl: string, clusterSize: number): Promise<NodeView> {
  try {
    const response = await managementRequest(
      managementUrl,
      "/api/nodes?columns=name,running,partitions",
      { timeoutMs: 2_000 },
    );
    if (!response.ok) {
      return { whole: false, running: 0, down: 0, text: `HTTP ${response.status}` };
    }
    const nodes = (await response.json()) as {
      name: string;
      running?: boolean;
      partitions?: string[];
    }[];
    const down = nodes.filter((node) => node.running !== true).map((node) => node.name);
    const partitions = nodes.flatMap((node) => node.partitions ?? []);
    const whole = nodes.length === clusterSize && down.length === 0 && partitions.length === 0;
    return {
      whole,
      running: nodes.length - down.length,
      down: down.length,
      text: whole
        ? "whole"
        : `${nodes.length} nodes listed, down: [${down.join(", ")}], partitioned from: [${partitions.join(", ")}]`,
    };
  } catch (error) {
    return {
      whole: false,
      running: 0,
      down: 0,
      text: `no answer (${(error as Error).message})`,
    };
  }
}
