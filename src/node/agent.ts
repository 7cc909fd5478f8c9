// The pieces of a node agent pass that static mode and the Kubernetes controller share: the appliers
// (FRR through the reloader, the kernel through iproute2), the node facts of a pass with their log
// line, the log lines of invalid input, the status and summary of a finished pass, and the saved
// "last good version of every object" that survives a restart of the agent.
import { readFileSync } from 'node:fs';
import { formatIssue, type ValidationIssue } from '../api/issues.js';
import type { RouterNodeConfigurationStatusStatus } from '../api/schema/status.js';
import type { ApiSnapshot } from '../api/types.js';
import type { Logger } from '../frr/log.js';
import { applyFrrConfig } from '../frr/reloader-client.js';
import { writeFileAtomic } from '../frr/state-file.js';
import { createKernelApplier } from '../kernel/apply.js';
import type { KernelPlan } from '../kernel/model.js';
import type { NodeFacts } from '../render/model.js';
import { nodeFactsForPass } from './facts.js';
import type { FrrApplier, KernelApplier, ReconcileReport } from './reconciler.js';
import { nodeStatus } from './status.js';

export interface AgentPlacement {
  /** Named namespace FRR runs in. */
  routerNamespace: string;
  /** Namespace playing the host (labs and tests); undefined = the agent's own. */
  hostNamespace?: string;
  /** Hostname the reloader's vtysh runs under (default: this machine's). */
  frrHostname?: string;
}

export type FrrApplyResult = 'applied' | 'unchanged' | 'failed';

/**
 * How long the agent trusts a kernel state it verified (see KernelApplierOptions.trustVerifiedMs):
 * passes with an unchanged plan within this window read nothing. Drift made behind the agent's back is
 * repaired within this window plus the resync period.
 */
export const KERNEL_TRUST_MS = 60_000;

/** FRR through the reloader's socket, the kernel through iproute2 (router namespace forced to ours). */
export function createAppliers(
  o: AgentPlacement & { reloaderSocket: string },
  hooks: { frrResult?: (r: FrrApplyResult) => void } = {},
): { frr: FrrApplier; kernel: KernelApplier } {
  const applier = createKernelApplier({
    trustVerifiedMs: KERNEL_TRUST_MS,
    ...(o.hostNamespace ? { hostNamespace: o.hostNamespace } : {}),
  });
  const kernel: KernelApplier = {
    apply: (plan: KernelPlan) => applier.apply({ ...plan, routerNamespace: o.routerNamespace }),
  };
  const frr: FrrApplier = {
    apply: async (text: string) => {
      try {
        const { applied } = await applyFrrConfig(o.reloaderSocket, text);
        hooks.frrResult?.(applied ? 'applied' : 'unchanged');
        return { applied };
      } catch (err) {
        hooks.frrResult?.('failed');
        throw err;
      }
    },
  };
  return { frr, kernel };
}

/** One warning line per input problem (an object that did not validate, a file that does not parse). */
export function logInputIssues(log: Logger, issues: readonly ValidationIssue[]): void {
  for (const i of issues) {
    log.warn(
      {
        object: `${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}`,
        field: i.field,
        reason: i.message,
        ...(i.source ? { file: i.source.file, document: i.source.document + 1 } : {}),
        issue: formatIssue(i),
      },
      'invalid input',
    );
  }
}

/**
 * The node facts of a pass (see nodeFactsForPass), logging the underlay MTU whenever what was found
 * changes (not on every pass).
 */
export function passFactsReader(
  log: Logger,
  placement: AgentPlacement,
): (base: NodeFacts, snapshot: ApiSnapshot) => Promise<NodeFacts> {
  let lastNote = '';
  return async (base, snapshot) => {
    const { facts, underlay } = await nodeFactsForPass(base, snapshot, {
      routerNamespace: placement.routerNamespace,
      ...(placement.frrHostname ? { systemHostname: placement.frrHostname } : {}),
      ...(placement.hostNamespace ? { hostNamespace: placement.hostNamespace } : {}),
    });
    const note =
      underlay.mtu !== undefined
        ? `mtu ${underlay.mtu} from ${underlay.found.map((f) => `${f.name}@${f.namespace}=${f.mtu}`).join(',')}`
        : `unset: ${underlay.reason ?? ''}`;
    if (note !== lastNote) {
      lastNote = note;
      if (underlay.mtu !== undefined)
        log.info(
          { underlayMtu: underlay.mtu, interfaces: underlay.found, missing: underlay.missing },
          'underlay MTU',
        );
      else if (snapshot.underlays.length > 0)
        log.warn({ reason: underlay.reason }, 'underlay MTU unknown, assuming 1500');
    }
    return facts;
  };
}

/** At most `max` entries, the rest summarised. */
export function capped(lines: string[], max: number): string[] {
  return lines.length <= max ? lines : [...lines.slice(0, max), `… and ${lines.length - max} more`];
}

/**
 * The status after a pass (RouterNodeConfigurationStatus.status), with one log line per failed
 * resource and one summary line (`reconciled`).
 */
export function summarizePass(
  r: ReconcileReport,
  log: Logger,
  previous: RouterNodeConfigurationStatusStatus | undefined,
  now: Date = new Date(),
): RouterNodeConfigurationStatusStatus {
  const status = nodeStatus(r.outcome, previous, now, r.inputIssues);
  for (const f of status.failedResources ?? []) log.warn({ ...f }, 'resource not applied');
  const ready = status.conditions?.[0];
  log.info(
    {
      ready: ready?.status,
      reason: ready?.reason,
      message: ready?.message,
      frrApplied: r.frrApplied,
      kernelOperations: r.kernelOperations,
      ...(r.kernelChanges ? { kernelChanges: capped(r.kernelChanges, 100) } : {}),
      durationMs: Math.round(r.durationMs),
    },
    'reconciled',
  );
  return status;
}

/** A source of objects that keeps the last good version of each and can save/restore them. */
export interface LastGoodStore {
  saveState(): unknown;
  /** Seeds the last good versions from a saved state; returns what was not restored. */
  restoreState(state: unknown): string[];
}

/** Seeds `source` with the last good objects a previous run saved in `file`; returns the saved text. */
export function restoreLastGood(source: LastGoodStore, file: string, log: Logger): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  try {
    const problems = source.restoreState(JSON.parse(text));
    for (const p of problems)
      log.warn({ stateFile: file, problem: p }, 'saved last good state partly ignored');
    log.info({ stateFile: file }, 'restored the last good version of every object');
  } catch (err) {
    log.warn({ stateFile: file, err: (err as Error).message }, 'saved last good state unreadable, ignored');
  }
  return text;
}

/** Saves the last good objects when they changed (atomically, fsync'd, 0600: they may carry BGP passwords). */
export async function saveLastGood(
  source: LastGoodStore,
  file: string,
  previous: string,
  log: Logger,
): Promise<string> {
  const text = `${JSON.stringify(source.saveState(), null, 1)}\n`;
  if (text === previous) return previous;
  try {
    await writeFileAtomic(file, text);
    return text;
  } catch (err) {
    log.error({ stateFile: file, err: (err as Error).message }, 'cannot save the last good state');
    return previous;
  }
}
