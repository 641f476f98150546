import { compileTopology, loadTopology, startConsole } from "../src/index.ts";

const server = await startConsole({
  url: process.env.RABBITMQ_URL ?? "amqp://localhost:5672",
  topology: compileTopology(await loadTopology("topology/orders.yaml")),
  port: 0,
});
console.log(server.pageUrl); // http://127.0.0.1:<port>/#token=...
// ...
await server.close();
