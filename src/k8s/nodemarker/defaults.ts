// The nodemarker's defaults, apart from its runtime so that the CLI can show them in --help without
// loading the nodemarker itself (the Kubernetes client, the webhooks, prom-client).
import { hostname } from 'node:os';

export const DEFAULTS = {
  webhookPort: 9443,
  certServiceName: 'openpe-webhook-service',
  webhookConfigurationName: 'openpe-validating-webhook-configuration',
  certSecretName: 'openpe-webhook-server-cert',
  leaderElectionId: 'openperouter-nodemarker',
  metricsBindAddress: '0',
  healthProbeBindAddress: ':8081',
} as const;

export function defaultIdentity(): string {
  return process.env['POD_NAME'] || hostname();
}
