// The pod's own service account, as client-go's rest.InClusterConfig: the API server at
// $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT over HTTPS, verified with the mounted ca.crt; the
// mounted token (a bound token the kubelet rotates, so credentials.ts re-reads the file); the pod's
// namespace.
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import type { ClusterConfig } from './config.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterOptions {
  /** Where the service account is mounted (tests use a temporary directory). */
  root?: string;
  env?: NodeJS.ProcessEnv;
}

/** Whether this process looks like it runs in a pod with a service account. */
export function inClusterAvailable(o: InClusterOptions = {}): boolean {
  const env = o.env ?? process.env;
  return Boolean(env['KUBERNETES_SERVICE_HOST']) && existsSync(join(o.root ?? SERVICE_ACCOUNT_DIR, 'token'));
}

export function inClusterConfig(o: InClusterOptions = {}): ClusterConfig {
  const env = o.env ?? process.env;
  const root = o.root ?? SERVICE_ACCOUNT_DIR;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port)
    throw new Error(
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set',
    );
  const tokenFile = join(root, 'token');
  if (!existsSync(tokenFile))
    throw new Error(`in-cluster configuration: no service account token at ${tokenFile}`);
  const caFile = join(root, 'ca.crt');
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new Error(`in-cluster configuration: cannot read ${caFile}: ${(err as Error).message}`);
  }
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(root, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    namespace = undefined; // optional, as in client-go
  }
  return {
    source: 'in-cluster service account',
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca,
    insecureSkipTlsVerify: false,
    ...(namespace ? { namespace } : {}),
    user: { tokenFile },
  };
}
