import { connect, loadTopology } from "../src/index.ts";
import { startLocalCluster } from "../src/testing/index.ts";

const cluster = await startLocalCluster(); // { urls, managementUrls, nodes }
const topology = await loadTopology("topology/orders.yaml");
const warren = await connect({ url: cluster.urls, topology });
const leader = await cluster.queueLeader("/", "orders.fulfil"); // node index
await cluster.kill(leader); // SIGKILL to the node's process group
await cluster.startNode(leader); // back with its data
await warren.close();
await cluster.stop(); // every node killed, temp dir removed
