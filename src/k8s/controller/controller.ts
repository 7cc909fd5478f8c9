// The Kubernetes-mode node agent: informers (src/sources/kubernetes.ts) feed the same reconciler as
// static mode (reconcileOnce through ReconcileLoop, with the appliers, node facts, log lines and status
// of src/node/agent.ts). Around it: the router's health (the reloader's /healthz and /readyz, not pod
// readiness), the RouterNodeConfigurationStatus and Events, metrics and probes.
//
// A pass: every informer listed once → this Node carries openpe.io/nodeindex → the router answers →
// read and validate the objects, watch the passwordSecrets → node facts from the machine → FRR, then the
// kernel → status (written only when it changed), Events (transitions only), metrics.
// Stopping leaves every kernel object and FRR's configuration in place.
import type { Logger } from '../../frr/log.js';
import { reloaderHealth } from '../../frr/reloader-client.js';
import { runProcess } from '../../kernel/exec.js';
import { namespaceExists } from '../../kernel/read.js';
import {
  type AgentPlacement,
  createAppliers,
  logInputIssues,
  passFactsReader,
  restoreLastGood,
  saveLastGood,
  summarizePass,
} from '../../node/agent.js';
import { ReconcileLoop, type ReconcileReport, reconcileOnce } from '../../node/reconciler.js';
import { RenderMemo } from '../../node/render-memo.js';
import type { FrrLogLevel } from '../../render/model.js';
import { KubernetesSource } from '../../sources/kubernetes.js';
import { type ClusterConfig, KubeClient } from '../client/index.js';
import { type Endpoints, newMetricsRegistry, serveEndpoints } from '../endpoints.js';
import { TransitionEvents } from './events.js';
import { ControllerMetrics } from './metrics.js';
import { StatusWriter } from './status-writer.js';

export interface ControllerOptions extends AgentPlacement {
  /** Where the API server is and who we are (see loadKubeConfig). */
  kubeConfig: ClusterConfig;
  nodeName: string;
  /** The controller's namespace: status objects, RawFRRConfigs. */
  namespace: string;
  reloaderSocket: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  /** FRR's log level (from --log-level). */
  frrLogLevel?: FrrLogLevel;
  debounceMs: number;
  resyncSeconds: number;
  /** Where the last good version of every object is saved (undefined: not saved). */
  stateFile?: string;
  /** Delay between checks while the router does not answer (doubles up to 30 s). Default 1000. */
  routerRetryMs?: number;
  /** First delay before restarting a failed watch. Default 1000. */
  watchRestartMs?: number;
  log: Logger;
}

export interface Controller {
  readonly endpoints: Endpoints;
  readonly metrics: ControllerMetrics;
  /** Stops informers and endpoints after the running pass; the node's state stays as it is. */
  stop(): Promise<void>;
}

const waitingReport = (reason: string, message: string, retryMs?: number): ReconcileReport => ({
  outcome: { kind: 'waiting', reason, message, ...(retryMs !== undefined ? { retryMs } : {}), failures: [] },
  frrApplied: false,
  kernelOperations: 0,
  durationMs: 0,
});

export async function startController(o: ControllerOptions): Promise<Controller> {
  const log = o.log;
  const registry = newMetricsRegistry();
  const metrics = new ControllerMetrics(registry);
  let loop: ReconcileLoop | undefined;
  const client = new KubeClient(o.kubeConfig);
  const source = new KubernetesSource(client, {
    nodeName: o.nodeName,
    namespace: o.namespace,
    log,
    onChange: () => loop?.trigger(),
    onWatchError: (resource) => metrics.watchErrors.inc({ resource }),
    ...(o.watchRestartMs !== undefined ? { restartBackoffMs: o.watchRestartMs } : {}),
  });
  const status = new StatusWriter(client, {
    nodeName: o.nodeName,
    namespace: o.namespace,
    log,
    refreshMs: Math.max(o.resyncSeconds, 30) * 1000,
  });
  const { frr, kernel } = createAppliers(o, { frrResult: (r) => metrics.frr(r) });
  const memo = new RenderMemo();
  const factsOf = passFactsReader(log, o);
  let savedState = o.stateFile ? restoreLastGood(source, o.stateFile, log) : '';

  let routerReady = false;
  let passSucceeded = false;
  let stopped = false;
  let routerFailures = 0;
  let lastWaiting = '';
  const routerRetryMs = o.routerRetryMs ?? 1000;

  const pass = async (): Promise<ReconcileReport> => {
    const unsynced = source.unsynced();
    if (unsynced.length > 0)
      return waitingReport(
        'WaitingForApiServer',
        `waiting for the first list of ${unsynced.join(', ')}`,
        Math.min(30_000, routerRetryMs * 2),
      );
    const node = source.nodeInfo();
    if (node.index === undefined)
      return waitingReport('WaitingForNodeIndex', `waiting for the node index: ${node.problem ?? ''}`);
    // FRR runs inside the router namespace: the router pod waits for it, so it must exist before
    // the router can answer (the kernel pass would create it too, but only after FRR is configured).
    if (!namespaceExists(o.routerNamespace)) {
      const r = await runProcess('ip', ['netns', 'add', o.routerNamespace]);
      if (r.code === 0)
        log.info({ routerNamespace: o.routerNamespace }, 'created the router network namespace');
      else
        log.error(
          { routerNamespace: o.routerNamespace, err: r.stderr.trim() },
          'cannot create the router network namespace',
        );
    }
    const health = await reloaderHealth(o.reloaderSocket, { timeoutMs: 10_000 });
    routerReady = health.ready;
    if (!health.ready) {
      const delay = Math.min(30_000, routerRetryMs * 2 ** routerFailures);
      routerFailures++;
      return waitingReport(
        'RouterNotReady',
        `waiting for the router (reloader at ${o.reloaderSocket}): ${health.reason ?? 'not ready'}`,
        delay,
      );
    }
    routerFailures = 0;
    const read = await source.read(node.labels);
    if (o.stateFile) savedState = await saveLastGood(source, o.stateFile, savedState, log);
    logInputIssues(log, read.issues);
    const facts = await factsOf(
      {
        name: node.name,
        index: node.index,
        labels: node.labels,
        ...(o.frrLogLevel ? { logLevel: o.frrLogLevel } : {}),
      },
      read.snapshot,
    );
    return reconcileOnce(
      {
        snapshot: read.snapshot,
        facts,
        options: { operatorNamespace: o.namespace, secretPassword: read.secretPassword },
        inputIssues: read.issues,
      },
      frr,
      kernel,
      memo,
    );
  };

  const events = new TransitionEvents(client, { nodeName: o.nodeName, log }, undefined);
  const report = async (r: ReconcileReport): Promise<void> => {
    if (r.outcome.kind === 'waiting') {
      // Said once per distinct reason, not on every retry.
      const note = `${r.outcome.reason}: ${r.outcome.message}`;
      if (note !== lastWaiting) log.warn({ reason: r.outcome.reason, message: r.outcome.message }, 'waiting');
      lastWaiting = note;
    } else {
      lastWaiting = '';
    }
    const previous = status.current();
    const next = summarizePass(r, log, previous);
    const ready = next.conditions?.[0]?.status === 'True';
    metrics.pass(r, ready, next.failedResources?.length ?? 0);
    if (r.outcome.kind === 'applied') passSucceeded = true;
    const nodeUid = source.nodeInfo().uid;
    if (await status.write(next, nodeUid)) metrics.statusWrites.inc();
    await events.record(next, (kind, name) => source.uidOf(kind, name), nodeUid);
  };

  const endpoints = await serveEndpoints({
    metricsBindAddress: o.metricsBindAddress,
    healthProbeBindAddress: o.healthProbeBindAddress,
    registry,
    healthy: () => !stopped,
    ready: () => routerReady && passSucceeded,
  });
  log.info(
    {
      node: o.nodeName,
      namespace: o.namespace,
      routerNamespace: o.routerNamespace,
      reloaderSocket: o.reloaderSocket,
      metricsPort: endpoints.metricsPort,
      healthPort: endpoints.healthPort,
      ...(o.hostNamespace ? { hostNamespace: o.hostNamespace } : {}),
    },
    'starting',
  );

  await status.refresh(true);
  events.reset(status.current());
  await source.start();
  loop = new ReconcileLoop(pass, report, { debounceMs: o.debounceMs, resyncMs: o.resyncSeconds * 1000 });
  loop.trigger(0);

  return {
    endpoints,
    metrics,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      source.stop();
      await loop?.stop();
      await endpoints.close();
      client.close();
    },
  };
}
