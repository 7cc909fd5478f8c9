// `openperouter controller`: the node agent in Kubernetes mode (one per node, DaemonSet, hostNetwork,
// privileged). See src/k8s/controller/controller.ts.
import type { Command } from 'commander';
import { isLogLevel, jsonLogger, type LogLevel } from '../frr/log.js';
import { DEFAULT_SOCKET } from '../frr/reloader-server.js';
import { ROUTER_NAMESPACE } from '../kernel/model.js';
import type { FrrLogLevel } from '../render/model.js';

interface ControllerFlags {
  nodeName?: string;
  namespace: string;
  kubeconfig?: string;
  reloaderSocket: string;
  routerNamespace: string;
  hostNamespace?: string;
  frrHostname?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  logLevel: string;
  resyncSeconds: number;
  debounceMs: number;
  stateFile: string;
}

/** FRR's name for a log level (FRR's `log file … <level>`). */
function frrLevel(level: LogLevel): FrrLogLevel {
  switch (level) {
    case 'debug':
      return 'debugging';
    case 'warn':
      return 'warnings';
    case 'error':
      return 'errors';
    default:
      return 'informational';
  }
}

const nonNegative = (flag: string) => (s: string) => {
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: expected a non-negative number, got "${s}"`);
  return n;
};

export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description(
      "Run the node agent in Kubernetes mode: watch the routing objects and this node's Node, apply kernel state and FRR's configuration, write the node's RouterNodeConfigurationStatus",
    )
    .option('--node-name <name>', 'this node (default: $NODE_NAME)')
    .option(
      '--namespace <ns>',
      'namespace of the installation: RouterNodeConfigurationStatus objects and RawFRRConfigs live there (default: $NAMESPACE, else openperouter-system)',
      process.env['NAMESPACE'] || 'openperouter-system',
    )
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, then the in-cluster service account)')
    .option('--reloader-socket <path>', 'unix socket of the FRR reloader', DEFAULT_SOCKET)
    .option('--router-namespace <netns>', 'named namespace FRR runs in', ROUTER_NAMESPACE)
    .option('--host-namespace <netns>', 'treat this named namespace as the host (labs and tests)')
    .option(
      '--frr-hostname <name>',
      "hostname the reloader's vtysh runs under: FRR 8.4 prints it in show running-config whatever the config says (default: this machine's hostname)",
    )
    .option('--metrics-bind-address <addr>', 'Prometheus /metrics on [host]:port; 0 disables', ':9082')
    .option('--health-probe-bind-address <addr>', '/healthz and /readyz on [host]:port; 0 disables', ':9081')
    .option('--log-level <level>', "debug, info, warn or error (also FRR's log level)", 'info')
    .option(
      '--resync-seconds <s>',
      'reconcile this often even without changes (0 = never)',
      nonNegative('--resync-seconds'),
      300,
    )
    .option(
      '--debounce-ms <ms>',
      'wait this long after a change before reconciling (bursts become one pass)',
      nonNegative('--debounce-ms'),
      200,
    )
    .option(
      '--state-file <path>',
      'where the last good version of every object is kept, so that a restart while an object is invalid keeps it ("" = not kept)',
      '/tmp/openperouter/controller-last-good.json',
    )
    .addHelpText(
      'after',
      '\nNeeds: root (privileged) in the host network namespace, /run/netns shared with the host, the reloader socket.\nStopping (SIGTERM, SIGINT) leaves every kernel object and the FRR configuration in place.',
    )
    .action(async (o: ControllerFlags) => {
      if (!isLogLevel(o.logLevel))
        throw new Error(`--log-level: use debug, info, warn or error, got "${o.logLevel}"`);
      const nodeName = o.nodeName || process.env['NODE_NAME'];
      if (!nodeName) throw new Error('--node-name (or $NODE_NAME) is required');
      const log = jsonLogger({ component: 'controller', level: o.logLevel });
      // Loaded here, not at the top: every subcommand shares main.ts, and this one needs much more.
      const { startController } = await import('../k8s/controller/controller.js');
      const { loadKubeConfig } = await import('../k8s/kubeconfig.js');
      const controller = await startController({
        kubeConfig: loadKubeConfig(o.kubeconfig),
        nodeName,
        namespace: o.namespace,
        reloaderSocket: o.reloaderSocket,
        routerNamespace: o.routerNamespace,
        ...(o.hostNamespace ? { hostNamespace: o.hostNamespace } : {}),
        ...(o.frrHostname ? { frrHostname: o.frrHostname } : {}),
        metricsBindAddress: o.metricsBindAddress,
        healthProbeBindAddress: o.healthProbeBindAddress,
        frrLogLevel: frrLevel(o.logLevel),
        debounceMs: o.debounceMs,
        resyncSeconds: o.resyncSeconds,
        ...(o.stateFile ? { stateFile: o.stateFile } : {}),
        log,
      });
      await new Promise<void>((resolve) => {
        const stop = async (signal: string) => {
          log.info({ signal }, 'stopping; kernel and FRR state stay in place');
          await controller.stop();
          resolve();
        };
        process.once('SIGTERM', () => void stop('SIGTERM'));
        process.once('SIGINT', () => void stop('SIGINT'));
      });
      // Open keep-alive sockets of the API client must not hold the process.
      process.exit(0);
    });
}
