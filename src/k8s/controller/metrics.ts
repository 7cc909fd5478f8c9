// The controller's Prometheus metrics (served by src/k8s/endpoints.ts).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FrrApplyResult } from '../../node/agent.js';
import type { ReconcileReport } from '../../node/reconciler.js';

export type PassResult = 'ready' | 'degraded' | 'underlay_failed' | 'error' | 'waiting';

export class ControllerMetrics {
  readonly reconciles: Counter<'outcome'>;
  readonly duration: Histogram;
  readonly kernelOperations: Counter;
  readonly frrReloads: Counter<'result'>;
  readonly lastSuccess: Gauge;
  readonly failedResources: Gauge;
  readonly ready: Gauge;
  readonly watchErrors: Counter<'resource'>;
  readonly statusWrites: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconciles = new Counter({
      name: 'openperouter_controller_reconciles_total',
      help: 'Reconcile passes by outcome: ready, degraded (applied, some resources failed), underlay_failed, error, waiting (node index or router missing)',
      labelNames: ['outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'openperouter_controller_reconcile_duration_seconds',
      help: 'Duration of reconcile passes (render, FRR apply, kernel apply)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.kernelOperations = new Counter({
      name: 'openperouter_controller_kernel_operations_total',
      help: 'Kernel write operations (ip -batch lines) done by reconcile passes',
      registers,
    });
    this.frrReloads = new Counter({
      name: 'openperouter_controller_frr_reloads_total',
      help: 'FRR configurations pushed to the reloader, by result: applied, unchanged (FRR not touched), failed',
      labelNames: ['result'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'openperouter_controller_last_success_timestamp_seconds',
      help: 'Unix time of the last pass that applied the configuration',
      registers,
    });
    this.failedResources = new Gauge({
      name: 'openperouter_controller_failed_resources',
      help: 'Resources not applied on this node after the last pass',
      registers,
    });
    this.ready = new Gauge({
      name: 'openperouter_controller_ready',
      help: '1 when the node status is Ready',
      registers,
    });
    this.watchErrors = new Counter({
      name: 'openperouter_controller_watch_errors_total',
      help: 'Watches that stopped on an error and were restarted, by resource',
      labelNames: ['resource'],
      registers,
    });
    this.statusWrites = new Counter({
      name: 'openperouter_controller_status_writes_total',
      help: 'Writes of the RouterNodeConfigurationStatus (only when it changed)',
      registers,
    });
    for (const r of ['applied', 'unchanged', 'failed'] as const) this.frrReloads.inc({ result: r }, 0);
  }

  frr(result: FrrApplyResult): void {
    this.frrReloads.inc({ result });
  }

  pass(r: ReconcileReport, ready: boolean, failed: number): PassResult {
    const k = r.outcome.kind;
    const result: PassResult =
      k === 'applied' ? (ready ? 'ready' : 'degraded') : k === 'underlayFailed' ? 'underlay_failed' : k;
    this.reconciles.inc({ outcome: result });
    if (k !== 'waiting') this.duration.observe(r.durationMs / 1000);
    this.kernelOperations.inc(r.kernelOperations);
    if (k === 'applied') this.lastSuccess.set(Date.now() / 1000);
    this.failedResources.set(failed);
    this.ready.set(ready ? 1 : 0);
    return result;
  }
}
