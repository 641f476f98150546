/**
 * The checks of `BrokerEndpointOptions`, shared by every function that
 * takes a broker endpoint (plan/apply, the dead-letter functions). The
 * endpoint itself (URLs parsed, credentials apart, TLS files read) is
 * resolved later by `resolveEndpoint`; this schema only refuses values of
 * the wrong shape before any I/O happens.
 */
import { z } from "zod";
import { integer, nonEmptyString } from "../options.ts";

/** One URL, or the URLs of a cluster's nodes (a non-empty list). */
const urls = () =>
  z.union([nonEmptyString(), z.array(nonEmptyString()).min(1)], {
    error: "a URL, or a non-empty list of URLs (one per cluster node)",
  });

/** Shape of `BrokerEndpointOptions` (connection/endpoint.ts). */
export const brokerEndpointSchema = z.object({
  url: urls(),
  managementUrl: urls().optional(),
  tls: z
    .object(
      {
        caFile: nonEmptyString().optional(),
        certFile: nonEmptyString().optional(),
        keyFile: nonEmptyString().optional(),
        servername: nonEmptyString().optional(),
      },
      { error: "an object of file paths (caFile, certFile, keyFile, servername)" },
    )
    .optional(),
  timeoutMs: integer(1).optional(),
});
