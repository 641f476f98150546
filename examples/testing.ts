import { findOrStartBroker, findOrStartPostgres } from "../src/testing/index.ts";

const broker = await findOrStartBroker(); // { url, managementUrl, source, stop() }
const postgres = await findOrStartPostgres(); // { url, source, stop() }
// ... connect({ url: broker.url, ... }), new pg.Pool({ connectionString: postgres.url })
await Promise.all([broker.stop(), postgres.stop()]);
