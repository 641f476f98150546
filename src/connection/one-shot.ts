/**
 * A plain AMQP connection for one operation of the CLI or an operator
 * function (`topology apply`, `dlq ...`): no reconnects, and a failure to
 * open it becomes a `ConnectionError` that says what to fix.
 */
import amqp, { type ChannelModel } from "amqplib";
import { ConnectionError, ErrorCode } from "../errors.ts";
import type { ResolvedEndpoint } from "./endpoint.ts";

/** The AMQP reply code of a channel or connection error, if it carries one. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

function amqpUrlFor(amqpUrl: string, vhost: string): string {
  const url = new URL(amqpUrl);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return url.toString();
}

/**
 * Opens a connection to `vhost`, named `name` in the management UI, on the
 * first node of the endpoint that answers (in the order given). Rejects with
 * `WARREN_BROKER_AUTH` (login refused, or no access to the vhost: the
 * cluster's answer, not retried on another node) or
 * `WARREN_BROKER_UNREACHABLE` when no node answers.
 */
export async function openOneShotConnection(
  endpoint: ResolvedEndpoint,
  vhost: string,
  name: string,
): Promise<ChannelModel> {
  const unreachable: ConnectionError[] = [];
  for (const amqpUrl of endpoint.amqpUrls) {
    try {
      return await connectOnce(endpoint, amqpUrl, vhost, name);
    } catch (error) {
      if ((error as ConnectionError).code !== ErrorCode.WARREN_BROKER_UNREACHABLE) throw error;
      unreachable.push(error as ConnectionError);
    }
  }
  if (unreachable.length === 1) throw unreachable[0];
  throw new ConnectionError(
    ErrorCode.WARREN_BROKER_UNREACHABLE,
    `no node of the broker answered:\n${unreachable.map((e) => `  ${e.message}`).join("\n")}`,
    { cause: unreachable[0] },
  );
}

async function connectOnce(
  endpoint: ResolvedEndpoint,
  amqpUrl: string,
  vhost: string,
  name: string,
): Promise<ChannelModel> {
  const host = new URL(amqpUrl).host;
  try {
    return await amqp.connect(amqpUrlFor(amqpUrl, vhost), {
      ...endpoint.tls,
      timeout: endpoint.timeoutMs,
      noDelay: true,
      clientProperties: { connection_name: name },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/ACCESS[-_]REFUSED/.test(message) || replyCode(error) === 403) {
      throw new ConnectionError(
        ErrorCode.WARREN_BROKER_AUTH,
        `broker at ${host} refused the login of user "${endpoint.amqpUsername}": check the user and password in --url`,
        { cause: error },
      );
    }
    if (/NOT[-_]ALLOWED/.test(message) || replyCode(error) === 530) {
      throw new ConnectionError(
        ErrorCode.WARREN_BROKER_AUTH,
        `user "${endpoint.amqpUsername}" may not open vhost "${vhost}" on ${host}: check --vhost (or the URL's path), or grant permissions (rabbitmqctl set_permissions -p ${vhost} ${endpoint.amqpUsername} ".*" ".*" ".*")`,
        { cause: error },
      );
    }
    throw new ConnectionError(
      ErrorCode.WARREN_BROKER_UNREACHABLE,
      `broker at ${host} is unreachable (${message}): check --url or RABBITMQ_URL`,
      { cause: error },
    );
  }
}
