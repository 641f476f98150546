import { brokerUrls, management, withVhost } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";
import { databaseUrl } from "../../support/postgres.ts";

const { url, managementUrl } = brokerUrls(); // AMQP + management, with credentials
const queue = randomName("orders"); // "orders-3f9a1c2b": unique per test
const overview = await management("/api/overview"); // JSON, throws on non-2xx
await withVhost(async (vhost) => {
  // fresh vhost, deleted afterwards
  // vhost.url is the AMQP URL for it; vhost.name for management paths
  console.log(vhost.url, vhost.name);
});
const pgUrl = databaseUrl(); // throws with the reason if none
console.log(url, managementUrl, queue, overview, pgUrl);
