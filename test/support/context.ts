/**
 * What test/support/global-setup.ts hands to every integration test through
 * vitest's `provide`/`inject`. Declared once here so that `inject("...")` is
 * typed wherever it is called.
 */
import type { BrokerSource } from "../../src/testing/broker.ts";

declare module "vitest" {
  interface ProvidedContext {
    /** AMQP URL of the run's broker, with credentials. */
    RABBITMQ_URL: string;
    /** Management API base URL of the run's broker, with credentials. */
    RABBITMQ_MANAGEMENT_URL: string;
    /** Base URL of the broker's rabbitmq_prometheus endpoint, or "" when unknown. */
    RABBITMQ_PROMETHEUS_URL: string;
    /** Where the broker came from. */
    WARREN_BROKER_SOURCE: BrokerSource;
    /** URL of the run's PostgreSQL server, or "" when none could be found. */
    DATABASE_URL: string;
    /** Why there is no PostgreSQL server ("" when there is one). */
    DATABASE_ERROR: string;
  }
}
