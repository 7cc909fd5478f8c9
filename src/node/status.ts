// RouterNodeConfigurationStatus from the outcome of one reconcile (api.md §5), plus the per-object
// failures. Conditions keep their lastTransitionTime unless their status flips.
import { formatIssue, type ValidationIssue } from '../api/issues.js';
import type { ObjectFailure } from '../api/node-rules.js';
import {
  type Condition,
  type FailedResource,
  FailedResourceKinds,
  type RouterNodeConfigurationStatusStatus,
} from '../api/schema/status.js';

export type ReconcileOutcome =
  | { kind: 'applied'; failures: ObjectFailure[] }
  | { kind: 'underlayFailed'; failures: ObjectFailure[] }
  | { kind: 'error'; message: string; failures: ObjectFailure[] }
  /**
   * Nothing was attempted: a precondition of the node is missing (Kubernetes mode: the node index
   * annotation, the router). `reason` is the condition reason; the pass is retried after `retryMs`
   * when set (otherwise the next trigger retries it).
   */
  | { kind: 'waiting'; reason: string; message: string; retryMs?: number; failures: ObjectFailure[] };

const MAX_MESSAGE = 500;
const MAX_NAME = 253;

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

function failedResource(f: ObjectFailure): FailedResource {
  return {
    kind: f.object.kind,
    name: f.object.metadata.name,
    reason: f.reason,
    message: clip(f.message, MAX_MESSAGE),
  };
}

const isResourceKind = (k: string): k is FailedResource['kind'] =>
  (FailedResourceKinds as readonly string[]).includes(k);

/**
 * An input problem (an object that did not validate, read from a manifest file) as a failed resource:
 * the message names the field and the file, e.g. `spec.vni: must be >= 1; keeping its last good
 * version (/etc/openperouter/configs/l2.yaml, document 2)`. Problems not tied to an object of a
 * routing kind (unreadable files, unknown kinds) have no failed-resource form: see inputProblems.
 */
export function issueAsFailedResource(i: ValidationIssue): FailedResource | undefined {
  if (!isResourceKind(i.kind)) return undefined;
  const where = i.source ? ` (${i.source.file}, document ${i.source.document + 1})` : '';
  const message = `${i.field ? `${i.field}: ` : ''}${i.message}${where}` || 'invalid';
  return {
    kind: i.kind,
    name: clip(i.name || '(unnamed)', MAX_NAME),
    reason: 'ValidationFailed',
    message: clip(message, MAX_MESSAGE),
  };
}

/** Input problems that are not a failed resource of a routing kind, one line each. */
function inputProblems(issues: readonly ValidationIssue[]): string[] {
  return issues.filter((i) => !isResourceKind(i.kind)).map(formatIssue);
}

function conditions(
  ready: boolean,
  reason: string,
  message: string,
  now: string,
  previous: Condition[],
): Condition[] {
  const make = (type: 'Ready' | 'Degraded', status: 'True' | 'False'): Condition => {
    const old = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason,
      message,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
    };
  };
  return [make('Ready', ready ? 'True' : 'False'), make('Degraded', ready ? 'False' : 'True')];
}

/**
 * The status after one pass. `inputIssues` are the problems of reading the inputs (static mode: the
 * manifest files): objects that did not validate are failed resources (their last good version, if
 * any, was used instead), other problems (a file that does not parse) are named in the conditions.
 * Either makes the node not Ready.
 */
export function nodeStatus(
  outcome: ReconcileOutcome,
  previous: RouterNodeConfigurationStatusStatus | undefined,
  now: Date = new Date(),
  inputIssues: readonly ValidationIssue[] = [],
): RouterNodeConfigurationStatusStatus {
  const prev = previous?.conditions ?? [];
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const fromInput = inputIssues.flatMap((i) => issueAsFailedResource(i) ?? []);
  const problems = inputProblems(inputIssues);
  const more = problems.length > 0 ? `; input problems: ${problems.join('; ')}` : '';
  const failedResources = [...fromInput, ...outcome.failures.map(failedResource)];
  if (outcome.kind === 'underlayFailed') {
    return {
      conditions: conditions(
        false,
        'UnderlayFailed',
        `Underlay failed validation, existing FRR configuration left as-is${more}`,
        ts,
        prev,
      ),
      failedResources: failedResources.filter((r) => r.kind === 'Underlay'),
    };
  }
  if (outcome.kind === 'waiting') {
    // Nothing changed on the node: the failed resources of the last pass still describe it.
    return {
      conditions: conditions(false, outcome.reason, outcome.message, ts, prev),
      failedResources: previous?.failedResources ?? [],
    };
  }
  if (outcome.kind === 'error') {
    return {
      conditions: conditions(false, 'ConfigurationFailed', `${outcome.message}${more}`, ts, prev),
      failedResources,
    };
  }
  if (failedResources.length > 0 || problems.length > 0) {
    const what =
      failedResources.length > 0
        ? 'Some resources failed validation, see status.failedResources for details'
        : 'Some input could not be read';
    return {
      conditions: conditions(false, 'ConfigurationFailed', `${what}${more}`, ts, prev),
      failedResources,
    };
  }
  return {
    conditions: conditions(
      true,
      'ConfigurationSuccessful',
      'All configuration applied successfully',
      ts,
      prev,
    ),
    failedResources: [],
  };
}
