// `openperouter nodemarker`: node indexes + validating webhooks (see src/k8s/nodemarker/nodemarker.ts).
import { type Command, Option } from 'commander';
import { isLogLevel, jsonLogger, type LogLevel } from '../frr/log.js';
import { parseBindAddress } from '../k8s/bind-address.js';
import { DEFAULTS, defaultIdentity } from '../k8s/nodemarker/defaults.js';

interface NodemarkerFlags {
  namespace: string;
  webhookPort: number;
  webhookHost?: string;
  certServiceName: string;
  webhookConfigurationName: string;
  certSecretName: string;
  certExtraSans: string[];
  caLifetime: number;
  certLifetime: number;
  certCheckInterval: number;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  logLevel: LogLevel;
  kubeconfig?: string;
  leaderElect: boolean;
  leaderElectionId: string;
  identity?: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15s", "500ms", "10m", "2h", "365d" (or a plain number of seconds) -> milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(s)}: expected e.g. 500ms, 15s, 10m, 2h, 365d`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
}

function port(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw new Error(`invalid port ${JSON.stringify(s)}`);
  return n;
}

function bindAddress(s: string): string {
  parseBindAddress(s);
  return s;
}

function duration(flag: string, description: string, dflt: string): Option {
  return new Option(`${flag} <duration>`, description)
    .argParser(parseDuration)
    .default(parseDuration(dflt), dflt);
}

export function registerNodemarkerCommand(program: Command): void {
  program
    .command('nodemarker')
    .description(
      'Give every Node a stable index (annotation openpe.io/nodeindex, leader-elected) and serve the validating webhooks with a self-managed certificate',
    )
    .requiredOption(
      '--namespace <ns>',
      'namespace of the Lease and the certificate Secret (the operator namespace)',
    )
    .option(
      '--webhook-port <port>',
      'HTTPS port of the validating webhooks (0: no webhooks)',
      port,
      DEFAULTS.webhookPort,
    )
    .option(
      '--cert-service-name <name>',
      'Service of the webhooks: the certificate is for <name>.<namespace>.svc',
      DEFAULTS.certServiceName,
    )
    .option(
      '--webhook-configuration-name <name>',
      'ValidatingWebhookConfiguration whose caBundle is kept up to date ("" = none)',
      DEFAULTS.webhookConfigurationName,
    )
    .option(
      '--cert-secret-name <name>',
      'Secret holding the CA and the serving certificate',
      DEFAULTS.certSecretName,
    )
    .option(
      '--metrics-bind-address <addr>',
      'Prometheus /metrics on [host]:port (0 = off)',
      bindAddress,
      DEFAULTS.metricsBindAddress,
    )
    .option(
      '--health-probe-bind-address <addr>',
      '/healthz and /readyz on [host]:port (0 = off)',
      bindAddress,
      DEFAULTS.healthProbeBindAddress,
    )
    .option(
      '--log-level <level>',
      'debug, info, warn or error',
      (s: string) => {
        if (!isLogLevel(s)) throw new Error(`invalid log level ${JSON.stringify(s)}`);
        return s;
      },
      'info' as LogLevel,
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig (default: $KUBECONFIG, the pod service account, ~/.kube/config)',
    )
    .option('--no-leader-elect', 'assign node indexes without leader election (a single replica only)')
    .option('--leader-election-id <name>', 'name of the Lease in --namespace', DEFAULTS.leaderElectionId)
    .addOption(
      new Option('--identity <id>', 'this replica in the Lease (default: $POD_NAME, else the hostname)'),
    )
    .addOption(duration('--lease-duration', 'how long a Lease not renewed keeps others waiting', '15s'))
    .addOption(
      duration('--renew-deadline', 'how long the leader keeps trying to renew before it steps down', '10s'),
    )
    .addOption(duration('--retry-period', 'interval of the acquire/renew attempts', '2s'))
    .addOption(duration('--ca-lifetime', 'lifetime of a generated CA', '3650d'))
    .addOption(duration('--cert-lifetime', 'lifetime of a generated serving certificate', '365d'))
    .addOption(duration('--cert-check-interval', 'how often certificates and caBundle are checked', '10m'))
    .addOption(
      new Option(
        '--cert-extra-sans <names>',
        'more subjectAltNames of the serving certificate, comma separated',
      )
        .argParser((s: string) =>
          s
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== ''),
        )
        .default([]),
    )
    .addOption(
      new Option('--webhook-host <addr>', 'listen address of the webhook server (default all)').hideHelp(),
    )
    .addHelpText(
      'after',
      '\nA certificate is renewed when less than a third of its lifetime is left. RBAC, Service and ports: docs/install.md.',
    )
    .action(async (o: NodemarkerFlags) => {
      const log = jsonLogger({ level: o.logLevel, component: 'nodemarker' });
      // Loaded here, not at the top: every subcommand shares main.ts, and this one needs much more.
      const { startNodemarker } = await import('../k8s/nodemarker/nodemarker.js');
      const { loadKubeConfig } = await import('../k8s/kubeconfig.js');
      const nm = await startNodemarker({
        kc: loadKubeConfig(o.kubeconfig),
        namespace: o.namespace,
        webhookPort: o.webhookPort,
        ...(o.webhookHost !== undefined ? { webhookHost: o.webhookHost } : {}),
        certServiceName: o.certServiceName,
        webhookConfigurationName: o.webhookConfigurationName,
        certSecretName: o.certSecretName,
        certExtraSans: o.certExtraSans,
        caLifetimeMs: o.caLifetime,
        certLifetimeMs: o.certLifetime,
        certCheckIntervalMs: o.certCheckInterval,
        metricsBindAddress: o.metricsBindAddress,
        healthProbeBindAddress: o.healthProbeBindAddress,
        leaderElection: o.leaderElect,
        leaderElectionId: o.leaderElectionId,
        identity: o.identity ?? defaultIdentity(),
        leaseDurationMs: o.leaseDuration,
        renewDeadlineMs: o.renewDeadline,
        retryPeriodMs: o.retryPeriod,
        log,
      });
      if (nm.endpoints.healthPort !== undefined || nm.endpoints.metricsPort !== undefined) {
        log.info(
          { healthPort: nm.endpoints.healthPort, metricsPort: nm.endpoints.metricsPort },
          'endpoints listening',
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          log.info({}, 'stopping');
          nm.stop().then(resolve, (err: unknown) => {
            log.error({ err }, 'stop failed');
            resolve();
          });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
