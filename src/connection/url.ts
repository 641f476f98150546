/**
 * Broker URLs: masking for output and logs, and the connection settings warren
 * adds (heartbeat, vhost) when the URL does not give them.
 */

/** The URL with its password replaced by `***`; unparseable input is masked whole. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable url>";
  }
}

/** Replaces every occurrence of the URLs' passwords in `text` with `***`. */
export function maskSecrets(text: string, urls: readonly string[]): string {
  let masked = text;
  for (const url of urls) {
    try {
      const { password } = new URL(url);
      if (password.length > 0) {
        masked = masked.split(password).join("***");
        const decoded = decodeURIComponent(password);
        if (decoded !== password) masked = masked.split(decoded).join("***");
      }
    } catch {
      // Not a URL: nothing of it can be found in the text either.
    }
  }
  return masked;
}

/**
 * Adds `heartbeat` when the URL has none, and the topology's vhost when the
 * URL names none (an explicit vhost in the URL wins).
 */
export function brokerUrl(url: string, settings: { heartbeatSeconds: number; vhost?: string }) {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("heartbeat")) {
    parsed.searchParams.set("heartbeat", String(settings.heartbeatSeconds));
  }
  if ((parsed.pathname === "" || parsed.pathname === "/") && settings.vhost !== undefined) {
    parsed.pathname = `/${encodeURIComponent(settings.vhost)}`;
  }
  return parsed.toString();
}
