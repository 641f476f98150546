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
export { type ManagementRequestInit, managementRequest, managementUrlFor } from "./management.ts";
export {
  type FindOrStartPostgresOptions,
  findOrStartPostgres,
  POSTGRES_DEFAULTS,
  type Postgres,
  type PostgresSource,
} from "./postgres.ts";
