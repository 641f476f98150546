/**
 * The checks of `BrokerEndpointOptions`, shared by every function that
 * takes a broker endpoint (plan/apply, the dead-letter functions). The
 * endpoint itself (URLs parsed, credentials apart, TLS files read) is
 * resolved later by `resolveEndpoint`; this schema only refuses values of
 * the wrong shape before any I/O happens.
 */
import { z } from "zod";
import { integer, nonEmptyString } from "../options.ts";

/** Shape of `BrokerEndpointOptions` (connection/endpoint.ts). */
export const brokerEndpointSchema = z.object({
  url: nonEmptyString(),
  managementUrl: nonEmptyString().optional(),
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
