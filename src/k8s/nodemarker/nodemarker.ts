// The nodemarker: node indexes (leader-elected) + the validating webhooks with their self-managed
// certificate, metrics and health probes. `startNodemarker` wires the parts; the CLI
// (src/cli/nodemarker.ts) only parses flags.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../frr/log.js';
import { type ClusterConfig, KubeClient } from '../client/index.js';
import { type Endpoints, newMetricsRegistry, serveEndpoints } from '../endpoints.js';
import { CertManager } from '../webhook/cert-manager.js';
import { clusterValidator } from '../webhook/cluster-state.js';
import { startWebhookServer, type WebhookServer } from '../webhook/server.js';
import { DEFAULTS, defaultIdentity } from './defaults.js';
import { LeaderElector } from './leader-election.js';
import { NodeIndexer } from './node-index.js';

export { DEFAULTS, defaultIdentity };

export interface NodemarkerOptions {
  /** Where the API server is and who we are (see loadKubeConfig). */
  kc: ClusterConfig;
  /** Where the Lease and the certificate Secret live; RawFRRConfig objects are valid only here. */
  namespace: string;
  /** HTTPS port of the webhooks; 0: no webhook server (node indexes only). */
  webhookPort: number;
  /** Listen address of the webhook server (default all). */
  webhookHost?: string;
  certServiceName?: string;
  webhookConfigurationName?: string;
  certSecretName?: string;
  /** Extra subjectAltNames of the serving certificate (IP addresses are recognised). */
  certExtraSans?: string[];
  caLifetimeMs?: number;
  certLifetimeMs?: number;
  certCheckIntervalMs?: number;
  metricsBindAddress?: string;
  healthProbeBindAddress?: string;
  /** Default true. */
  leaderElection?: boolean;
  leaderElectionId?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Node index pass retry delay (default 1 s). */
  indexRetryDelayMs?: number;
  log: Logger;
}

export interface Nodemarker {
  registry: Registry;
  endpoints: Endpoints;
  /** The webhook server's port once it serves (undefined before, or with --webhook-port=0). */
  webhookPort(): number | undefined;
  isLeader(): boolean;
  ready(): boolean;
  indexer: NodeIndexer;
  certificates: CertManager | undefined;
  stop(): Promise<void>;
}

const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$/;

export async function startNodemarker(opts: NodemarkerOptions): Promise<Nodemarker> {
  const { kc, log, namespace } = opts;
  const client = new KubeClient(kc);

  const registry = newMetricsRegistry();
  const assignments = new Counter({
    name: 'openperouter_nodemarker_node_index_assignments_total',
    help: 'Node indexes written, by why the node needed one (missing, invalid, duplicate)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const admissions = new Counter({
    name: 'openperouter_nodemarker_admission_requests_total',
    help: 'Admission reviews answered, by kind, operation and whether they were allowed',
    labelNames: ['kind', 'operation', 'allowed'],
    registers: [registry],
  });
  const leaderGauge = new Gauge({
    name: 'openperouter_nodemarker_leader',
    help: '1 while this replica assigns node indexes (holds the Lease, or leader election is off)',
    registers: [registry],
  });
  const certExpiry = new Gauge({
    name: 'openperouter_nodemarker_webhook_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the webhook serving certificate in use, seconds since the epoch',
    registers: [registry],
  });
  const rotations = new Counter({
    name: 'openperouter_nodemarker_webhook_certificate_rotations_total',
    help: 'Certificates this replica generated, by certificate (ca, serving)',
    labelNames: ['certificate'],
    registers: [registry],
  });

  const leaderElection = opts.leaderElection ?? true;
  let elector: LeaderElector | undefined;
  const indexer = new NodeIndexer({
    client,
    log,
    mayWrite: () => (elector ? elector.isLeader() : true),
    onAssigned: (c) => assignments.inc({ reason: c.reason }),
    ...(opts.indexRetryDelayMs !== undefined ? { retryDelayMs: opts.indexRetryDelayMs } : {}),
  });
  if (leaderElection) {
    elector = new LeaderElector({
      client,
      namespace,
      name: opts.leaderElectionId ?? DEFAULTS.leaderElectionId,
      identity: opts.identity ?? defaultIdentity(),
      ...(opts.leaseDurationMs !== undefined ? { leaseDurationMs: opts.leaseDurationMs } : {}),
      ...(opts.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
      ...(opts.retryPeriodMs !== undefined ? { retryPeriodMs: opts.retryPeriodMs } : {}),
      log,
      onStartedLeading: () => indexer.trigger(),
      onStoppedLeading: () => undefined,
      onChange: (leading) => leaderGauge.set(leading ? 1 : 0),
    });
  } else {
    leaderGauge.set(1);
  }

  let server: WebhookServer | undefined;
  let serverStarting: Promise<void> | undefined;
  let certificates: CertManager | undefined;
  if (opts.webhookPort !== 0) {
    const extra = opts.certExtraSans ?? [];
    certificates = new CertManager({
      client,
      namespace,
      secretName: opts.certSecretName ?? DEFAULTS.certSecretName,
      serviceName: opts.certServiceName ?? DEFAULTS.certServiceName,
      webhookConfigurationName: opts.webhookConfigurationName ?? DEFAULTS.webhookConfigurationName,
      extraDnsNames: extra.filter((s) => !IP.test(s)),
      extraIpAddresses: extra.filter((s) => IP.test(s)),
      ...(opts.caLifetimeMs !== undefined ? { caLifetimeMs: opts.caLifetimeMs } : {}),
      ...(opts.certLifetimeMs !== undefined ? { certLifetimeMs: opts.certLifetimeMs } : {}),
      ...(opts.certCheckIntervalMs !== undefined
        ? {
            checkIntervalMs: opts.certCheckIntervalMs,
            retryIntervalMs: Math.min(5000, opts.certCheckIntervalMs),
          }
        : {}),
      log,
      onRotation: (what) => rotations.inc({ certificate: what }),
      onCertificate: (cert, notAfter) => {
        certExpiry.set(notAfter.getTime() / 1000);
        if (server) {
          server.setCertificate(cert);
          log.info({ notAfter: notAfter.toISOString() }, 'serving the renewed webhook certificate');
          return;
        }
        serverStarting ??= startWebhookServer({
          port: opts.webhookPort,
          ...(opts.webhookHost !== undefined ? { host: opts.webhookHost } : {}),
          certificate: cert,
          log,
          validate: clusterValidator(client, { operatorNamespace: namespace }),
          observe: (kind, operation, allowed) =>
            admissions.inc({ kind, operation, allowed: String(allowed) }),
        }).then(
          (s) => {
            server = s;
            // A rotation while starting: serve the latest.
            if (certificates?.current && certificates.current !== cert)
              s.setCertificate(certificates.current);
            log.info({ port: s.port, notAfter: notAfter.toISOString() }, 'webhook server listening');
          },
          (err: unknown) => {
            log.error({ err, port: opts.webhookPort }, 'cannot start the webhook server');
            process.exitCode = 1;
          },
        );
      },
    });
  }

  const ready = () => (opts.webhookPort === 0 || server !== undefined) && indexer.synced;
  const endpoints = await serveEndpoints({
    metricsBindAddress: opts.metricsBindAddress ?? DEFAULTS.metricsBindAddress,
    healthProbeBindAddress: opts.healthProbeBindAddress ?? DEFAULTS.healthProbeBindAddress,
    registry,
    healthy: () => true,
    ready,
  });

  const certStart = certificates?.start();
  const indexerStart = indexer.start().catch((err: unknown) => {
    log.error({ err }, 'cannot list the Nodes');
  });
  elector?.start();
  log.info(
    {
      namespace,
      webhookPort: opts.webhookPort,
      leaderElection,
      identity: leaderElection ? (opts.identity ?? defaultIdentity()) : undefined,
    },
    'nodemarker started',
  );

  return {
    registry,
    endpoints,
    webhookPort: () => server?.port,
    isLeader: () => (elector ? elector.isLeader() : true),
    ready,
    indexer,
    certificates,
    stop: async () => {
      certificates?.stop();
      await certStart;
      await indexerStart;
      await indexer.stop();
      await elector?.stop();
      await serverStarting;
      await server?.close();
      await endpoints.close();
      client.close();
      log.info({}, 'nodemarker stopped');
    },
  };
}
