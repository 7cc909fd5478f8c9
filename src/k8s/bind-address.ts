// Bind addresses of the metrics and health endpoints, parsed apart from the servers so that the CLI
// checks its flags without loading prom-client.

/** Parses ":8080", "0.0.0.0:8080", "[::1]:8080" or "127.0.0.1:0". "0" or "" disables the endpoint. */
export function parseBindAddress(addr: string): { host: string | undefined; port: number } | undefined {
  if (addr === '' || addr === '0') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid bind address "${addr}": expected [host]:port, for example :8080`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}
