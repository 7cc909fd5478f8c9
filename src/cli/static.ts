// `openperouter static`: the node agent without Kubernetes. The same reconciler as the controller,
// fed from a directory of standard manifests and a node file instead of the API.
import { mkdirSync, renameSync, watch, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatIssue } from '../api/issues.js';
import { API_VERSION } from '../api/kinds.js';
import type { RouterNodeConfigurationStatusStatus } from '../api/schema/status.js';
import { jsonLogger, type Logger } from '../frr/log.js';
import { applyFrrConfig } from '../frr/reloader-client.js';
import { createKernelApplier } from '../kernel/apply.js';
import { type KernelPlan, ROUTER_NAMESPACE } from '../kernel/model.js';
import { ReconcileLoop, type ReconcileReport, reconcileOnce } from '../node/reconciler.js';
import { nodeStatus } from '../node/status.js';
import { readNodeFile } from '../sources/node-file.js';
import { StaticManifestDir } from '../sources/static-dir.js';

interface StaticFlags {
  configDir: string;
  nodeFile: string;
  reloaderSocket: string;
  statusFile?: string;
  debounceMs: number;
  resyncSeconds: number;
  once?: boolean;
  hostNamespace?: string;
  routerNamespace: string;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function registerStaticCommand(program: Command): void {
  program
    .command('static')
    .description(
      'Run the node agent without Kubernetes: reconcile the manifests in --config-dir for the node described by --node-file, at start and whenever a file changes',
    )
    .requiredOption('--config-dir <dir>', 'directory of manifests (YAML/JSON, as for kubectl apply)')
    .requiredOption(
      '--node-file <file>',
      'node file: nodeName, nodeIndex {index | interfaceName [cidr]}, labels, logLevel',
    )
    .option(
      '--reloader-socket <path>',
      'unix socket of the FRR reloader',
      '/var/run/openperouter/reloader.sock',
    )
    .option('--status-file <path>', 'where to write the RouterNodeConfigurationStatus of this node')
    .option(
      '--debounce-ms <ms>',
      'wait this long after a file change before reconciling',
      (s) => Number(s),
      500,
    )
    .option(
      '--resync-seconds <s>',
      'reconcile this often even without changes (0 = never)',
      (s) => Number(s),
      300,
    )
    .option('--once', 'reconcile once and exit (exit code 1 if the node is not Ready)')
    .addHelpText(
      'after',
      '\nThe host namespace is the one the agent runs in; FRR runs in the named namespace "perouter".',
    )
    .option('--host-namespace <netns>', 'treat this named namespace as the host (labs and tests)')
    .option('--router-namespace <netns>', 'named namespace FRR runs in', ROUTER_NAMESPACE)
    .action(async (o: StaticFlags) => {
      const log = jsonLogger({ component: 'static' });
      const facts = readNodeFile(o.nodeFile);
      log.info({ node: facts.name, index: facts.index, configDir: o.configDir }, 'starting');
      const source = new StaticManifestDir(o.configDir);
      const applier = createKernelApplier(o.hostNamespace ? { hostNamespace: o.hostNamespace } : {});
      const kernel = {
        apply: (plan: KernelPlan) => applier.apply({ ...plan, routerNamespace: o.routerNamespace }),
      };
      const frr = {
        apply: async (text: string) => ({ applied: (await applyFrrConfig(o.reloaderSocket, text)).applied }),
      };
      let status: RouterNodeConfigurationStatusStatus | undefined;

      const pass = async (): Promise<ReconcileReport> => {
        const read = source.read();
        for (const i of read.issues) log.warn({ issue: formatIssue(i) }, 'invalid input');
        return reconcileOnce({ snapshot: read.snapshot, facts: { ...facts } }, frr, kernel);
      };
      const report = (r: ReconcileReport) =>
        reportPass(
          r,
          log,
          o,
          facts.name,
          (s) => (status = s),
          () => status,
        );

      if (o.once) {
        const r = await pass();
        report(r);
        process.exitCode = status?.conditions?.[0]?.status === 'True' ? 0 : 1;
        return;
      }
      const loop = new ReconcileLoop(pass, report, {
        debounceMs: o.debounceMs,
        resyncMs: o.resyncSeconds * 1000,
      });
      mkdirSync(o.configDir, { recursive: true });
      const watcher = watch(o.configDir, () => loop.trigger());
      loop.trigger(0);
      await new Promise<void>((resolve) => {
        const stop = async (signal: string) => {
          log.info({ signal }, 'stopping; kernel and FRR state stay in place');
          watcher.close();
          await loop.stop();
          resolve();
        };
        process.once('SIGTERM', () => void stop('SIGTERM'));
        process.once('SIGINT', () => void stop('SIGINT'));
      });
    });
}

function reportPass(
  r: ReconcileReport,
  log: Logger,
  o: StaticFlags,
  node: string,
  set: (s: RouterNodeConfigurationStatusStatus) => void,
  get: () => RouterNodeConfigurationStatusStatus | undefined,
): void {
  const status = nodeStatus(r.outcome, get());
  set(status);
  for (const f of status.failedResources ?? []) log.warn({ ...f }, 'resource not applied');
  const ready = status.conditions?.[0];
  log.info(
    {
      ready: ready?.status,
      reason: ready?.reason,
      message: ready?.message,
      frrApplied: r.frrApplied,
      kernelOperations: r.kernelOperations,
      durationMs: Math.round(r.durationMs),
    },
    'reconciled',
  );
  if (o.statusFile) {
    const obj = {
      apiVersion: API_VERSION,
      kind: 'RouterNodeConfigurationStatus',
      metadata: { name: node },
      status,
    };
    writeAtomically(o.statusFile, stringify(obj));
  }
}
