/**
 * `warren/testing`: a RabbitMQ broker and a PostgreSQL server for tests,
 * demos and local tries, found or started on demand (see docs/testing.md).
 */
export {
  BROKER_DEFAULTS,
  type Broker,
  type BrokerSource,
  type FindOrStartBrokerOptions,
  findOrStartBroker,
} from "./broker.ts";
export {
  LocalCluster,
  type LocalClusterNode,
  type LocalClusterOptions,
  startLocalCluster,
} from "./broker-cluster.ts";
export { CLUSTER_NET_TICKTIME_SECONDS } from "./cluster-node.ts";
export { type ManagementRequestInit, managementRequest, managementUrlFor } from "./management.ts";
export {
  type FindOrStartPostgresOptions,
  findOrStartPostgres,
  POSTGRES_DEFAULTS,
  type Postgres,
  type PostgresSource,
} from "./postgres.ts";
