// `openperouter static`: the node agent without Kubernetes. The same reconciler as the controller,
// fed from a directory of standard manifests and a node file instead of the API.
//
// One pass: read the manifests (an object that stopped validating keeps its last good version) and the
// node file → read the node facts from the machine (system hostname, underlay NIC MTU) → reconcileOnce
// (FRR through the reloader first, then the kernel) → log one line per failed resource and one summary
// line, and write the status file (RouterNodeConfigurationStatus).
import { mkdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import type { ValidationIssue } from '../api/issues.js';
import { API_VERSION } from '../api/kinds.js';
import type { RouterNodeConfigurationStatusStatus } from '../api/schema/status.js';
import { jsonLogger, type Logger } from '../frr/log.js';
import { ROUTER_NAMESPACE } from '../kernel/model.js';
import {
  createAppliers,
  logInputIssues,
  passFactsReader,
  restoreLastGood,
  saveLastGood,
  summarizePass,
} from '../node/agent.js';
import { ReconcileLoop, type ReconcileReport, reconcileOnce } from '../node/reconciler.js';
import { RenderMemo } from '../node/render-memo.js';
import type { NodeFacts } from '../render/model.js';
import { readNodeFile } from '../sources/node-file.js';
import { StaticManifestDir } from '../sources/static-dir.js';

interface StaticFlags {
  configDir: string;
  nodeFile: string;
  reloaderSocket: string;
  statusFile?: string;
  stateFile?: string;
  debounceMs: number;
  resyncSeconds: number;
  once?: boolean;
  hostNamespace?: string;
  routerNamespace: string;
  frrHostname?: string;
}

/** Default --state-file: one per router namespace, so that several lab nodes on one machine never share one. */
function stateFileFor(routerNamespace: string): string {
  const suffix = routerNamespace === ROUTER_NAMESPACE ? '' : `-${routerNamespace}`;
  return `/var/lib/openperouter/static-last-good${suffix}.json`;
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
      '--state-file <path>',
      `where the last good version of every object is kept, so that a restart while a manifest is invalid keeps it too (default: ${stateFileFor(ROUTER_NAMESPACE)}, or static-last-good-<router namespace>.json beside it)`,
    )
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
    .option(
      '--frr-hostname <name>',
      "hostname the reloader's vtysh runs under: FRR 8.4 prints it in show running-config whatever the config says, so the rendered config must carry it (default: this machine's hostname)",
    )
    .action(async (o: StaticFlags) => {
      const log = jsonLogger({ component: 'static' });
      let baseFacts = readNodeFile(o.nodeFile);
      log.info(
        {
          node: baseFacts.name,
          index: baseFacts.index,
          configDir: o.configDir,
          routerNamespace: o.routerNamespace,
          ...(o.hostNamespace ? { hostNamespace: o.hostNamespace } : {}),
        },
        'starting',
      );
      const source = new StaticManifestDir(o.configDir);
      const { frr, kernel } = createAppliers(o);
      const memo = new RenderMemo();
      const state: PassState = { status: o.statusFile ? readPreviousStatus(o.statusFile, log) : undefined };
      const stateFile = o.stateFile ?? stateFileFor(o.routerNamespace);
      let savedState = restoreLastGood(source, stateFile, log);
      const factsOf = passFactsReader(log, o);
      let lastNodeFileError = '';

      const pass = async (): Promise<ReconcileReport> => {
        // The node file is read again on every pass; a broken one keeps the last good facts.
        const nodeIssues: ValidationIssue[] = [];
        try {
          baseFacts = readNodeFile(o.nodeFile);
          lastNodeFileError = '';
        } catch (err) {
          const message = (err as Error).message;
          if (message !== lastNodeFileError)
            log.error(
              { nodeFile: o.nodeFile, err: message },
              'node file unusable, keeping the last good node facts',
            );
          lastNodeFileError = message;
          nodeIssues.push({
            kind: '(node file)',
            name: o.nodeFile,
            field: '',
            message: `${message}; keeping the last good node facts`,
          });
        }
        const read = source.read();
        savedState = await saveLastGood(source, stateFile, savedState, log);
        logInputIssues(log, read.issues);
        const facts = await factsOf(baseFacts, read.snapshot);
        return reconcileOnce(
          { snapshot: read.snapshot, facts, inputIssues: [...nodeIssues, ...read.issues] },
          frr,
          kernel,
          memo,
        );
      };
      const report = (r: ReconcileReport) => reportPass(r, log, o, baseFacts, state);

      if (o.once) {
        const r = await pass();
        report(r);
        process.exitCode = state.status?.conditions?.[0]?.status === 'True' ? 0 : 1;
        return;
      }
      const loop = new ReconcileLoop(pass, report, {
        debounceMs: o.debounceMs,
        resyncMs: o.resyncSeconds * 1000,
      });
      mkdirSync(o.configDir, { recursive: true });
      const watcher = watch(o.configDir, () => loop.trigger());
      watcher.on('error', (err) =>
        log.error({ dir: o.configDir, err: err.message }, 'watching the config directory failed'),
      );
      const nodeFileName = basename(o.nodeFile);
      const nodeWatcher = watch(dirname(o.nodeFile), (_event, file) => {
        if (file === null || file === nodeFileName) loop.trigger();
      });
      nodeWatcher.on('error', (err) =>
        log.error({ file: o.nodeFile, err: err.message }, 'watching the node file failed'),
      );
      loop.trigger(0);
      await new Promise<void>((resolve) => {
        const stop = async (signal: string) => {
          log.info({ signal }, 'stopping; kernel and FRR state stay in place');
          watcher.close();
          nodeWatcher.close();
          await loop.stop();
          resolve();
        };
        process.once('SIGTERM', () => void stop('SIGTERM'));
        process.once('SIGINT', () => void stop('SIGINT'));
      });
    });
}

interface PassState {
  status: RouterNodeConfigurationStatusStatus | undefined;
}

/** The status a previous run wrote (so that lastTransitionTime survives restarts); undefined if none. */
function readPreviousStatus(file: string, log: Logger): RouterNodeConfigurationStatusStatus | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const doc = parse(text) as { status?: RouterNodeConfigurationStatusStatus } | null;
    return doc?.status && Array.isArray(doc.status.conditions) ? doc.status : undefined;
  } catch (err) {
    log.warn(
      { statusFile: file, err: (err as Error).message },
      'previous status file unreadable, starting afresh',
    );
    return undefined;
  }
}

function reportPass(
  r: ReconcileReport,
  log: Logger,
  o: StaticFlags,
  facts: NodeFacts,
  state: PassState,
): void {
  const status = summarizePass(r, log, state.status);
  state.status = status;
  if (o.statusFile) {
    const obj = {
      apiVersion: API_VERSION,
      kind: 'RouterNodeConfigurationStatus',
      metadata: { name: facts.name },
      status,
    };
    try {
      writeAtomically(o.statusFile, stringify(obj));
    } catch (err) {
      log.error({ statusFile: o.statusFile, err: (err as Error).message }, 'cannot write the status file');
    }
  }
}
