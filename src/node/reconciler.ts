// The node reconciler: one pass turns a snapshot of every input into the node's applied state.
// Static mode and Kubernetes mode both feed it; there is no second copy of this logic.
// Order matters: FRR first, then the kernel (a VXLAN device appearing while bgpd has no EVPN
// configuration crashed bgpd upstream, FRR issue #22851).
import type { ValidationIssue } from '../api/issues.js';
import type { ApiSnapshot } from '../api/types.js';
import type { KernelPlan } from '../kernel/model.js';
import type { NodeFacts } from '../render/model.js';
import type { ResolveOptions } from '../render/resolve.js';
import { type RenderMemo, renderNode } from './render-memo.js';
import type { ReconcileOutcome } from './status.js';

export interface FrrApplier {
  /** Applies a complete FRR configuration; `applied: false` when it equals the running one. */
  apply(config: string): Promise<{ applied: boolean }>;
}

export interface KernelApplier {
  /** Converges the kernel to the plan; returns how many write operations it needed (and, optionally, which). */
  apply(
    plan: KernelPlan,
  ): Promise<{ operations: number; batches?: readonly { namespace: string; lines: readonly string[] }[] }>;
}

export interface ReconcileInputs {
  snapshot: ApiSnapshot;
  facts: NodeFacts;
  options?: ResolveOptions;
  /** Problems of reading the inputs (objects that did not validate...): passed through to the report. */
  inputIssues?: ValidationIssue[];
}

export interface ReconcileReport {
  outcome: ReconcileOutcome;
  frrApplied: boolean;
  kernelOperations: number;
  durationMs: number;
  /** The inputs' own problems (see ReconcileInputs.inputIssues); they go into the status too. */
  inputIssues?: ValidationIssue[];
  /** The kernel writes, `[namespace] line`, when the kernel applier reports them. */
  kernelChanges?: string[];
}

export async function reconcileOnce(
  inputs: ReconcileInputs,
  frr: FrrApplier,
  kernel: KernelApplier,
  /** The agent's memory of its last render (see render-memo.ts); without it every pass renders. */
  memo?: RenderMemo,
): Promise<ReconcileReport> {
  const started = performance.now();
  const done = (
    outcome: ReconcileOutcome,
    frrApplied = false,
    kernelOperations = 0,
    kernelChanges: string[] = [],
  ): ReconcileReport => ({
    outcome,
    frrApplied,
    kernelOperations,
    ...(kernelChanges.length > 0 ? { kernelChanges } : {}),
    durationMs: performance.now() - started,
    ...(inputs.inputIssues !== undefined && inputs.inputIssues.length > 0
      ? { inputIssues: inputs.inputIssues }
      : {}),
  });
  const rendered = (memo?.render.bind(memo) ?? renderNode)(inputs.snapshot, inputs.facts, inputs.options);
  const { result } = rendered;
  if (!result.config || rendered.frr === undefined || rendered.kernel === undefined)
    return done({ kind: 'underlayFailed', failures: result.failures });

  let frrApplied = false;
  try {
    frrApplied = (await frr.apply(rendered.frr)).applied;
  } catch (err) {
    return done({
      kind: 'error',
      message: `FRR configuration failed: ${(err as Error).message}`,
      failures: result.failures,
    });
  }
  try {
    const { operations, batches = [] } = await kernel.apply(rendered.kernel);
    const changes = batches.flatMap((b) => b.lines.map((l) => `[${b.namespace}] ${l}`));
    return done({ kind: 'applied', failures: result.failures }, frrApplied, operations, changes);
  } catch (err) {
    return done(
      {
        kind: 'error',
        message: `kernel configuration failed: ${(err as Error).message}`,
        failures: result.failures,
      },
      frrApplied,
    );
  }
}

export interface LoopOptions {
  /** Collapses bursts of triggers (file saves, watch events) into one pass. */
  debounceMs?: number;
  /** Re-runs a full pass this often even without triggers (drift repair). 0 = never. */
  resyncMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

/**
 * Runs reconcileOnce whenever triggered: coalesces triggers, never runs two passes at once, retries
 * failed passes with exponential backoff, and resyncs periodically.
 */
export class ReconcileLoop {
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private failures = 0;
  private stopped = false;
  private readonly opts: Required<LoopOptions>;

  constructor(
    private readonly pass: () => Promise<ReconcileReport>,
    private readonly onReport: (r: ReconcileReport) => void | Promise<void>,
    opts: LoopOptions = {},
  ) {
    this.opts = { debounceMs: 200, resyncMs: 300_000, backoffInitialMs: 1000, backoffMaxMs: 60_000, ...opts };
    if (this.opts.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.trigger(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  trigger(delayMs = this.opts.debounceMs): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runPass().finally(() => {
        this.running = undefined;
        if (this.pending) {
          this.pending = false;
          this.trigger();
        }
      });
    }, delayMs);
  }

  private async runPass(): Promise<void> {
    let report: ReconcileReport;
    try {
      report = await this.pass();
    } catch (err) {
      report = {
        outcome: { kind: 'error', message: (err as Error).message, failures: [] },
        frrApplied: false,
        kernelOperations: 0,
        durationMs: 0,
      };
    }
    await this.onReport(report);
    if (report.outcome.kind === 'error') {
      this.failures++;
      const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** (this.failures - 1));
      if (!this.pending) this.trigger(delay);
    } else if (report.outcome.kind === 'waiting') {
      if (report.outcome.retryMs !== undefined && !this.pending) this.trigger(report.outcome.retryMs);
    } else {
      this.failures = 0;
    }
  }

  /** Waits for the pass in progress, cancels what is scheduled. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.running;
  }

  /** Resolves when no pass is running or scheduled (for tests and one-shot runs). */
  async idle(): Promise<void> {
    while (this.running || this.timer) {
      await (this.running ?? new Promise((r) => setTimeout(r, 10)));
    }
  }
}
