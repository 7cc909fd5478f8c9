// RouterNodeConfigurationStatus from the outcome of one reconcile (api.md §5), plus the per-object
// failures. Conditions keep their lastTransitionTime unless their status flips.
import type { ObjectFailure } from '../api/node-rules.js';
import type { Condition, FailedResource, RouterNodeConfigurationStatusStatus } from '../api/schema/status.js';

export type ReconcileOutcome =
  | { kind: 'applied'; failures: ObjectFailure[] }
  | { kind: 'underlayFailed'; failures: ObjectFailure[] }
  | { kind: 'error'; message: string; failures: ObjectFailure[] };

const MAX_MESSAGE = 500;

function failedResource(f: ObjectFailure): FailedResource {
  const message = f.message.length > MAX_MESSAGE ? `${f.message.slice(0, MAX_MESSAGE - 1)}…` : f.message;
  return { kind: f.object.kind, name: f.object.metadata.name, reason: f.reason, message };
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

export function nodeStatus(
  outcome: ReconcileOutcome,
  previous: RouterNodeConfigurationStatusStatus | undefined,
  now: Date = new Date(),
): RouterNodeConfigurationStatusStatus {
  const prev = previous?.conditions ?? [];
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const failedResources = outcome.failures.map(failedResource);
  if (outcome.kind === 'underlayFailed') {
    return {
      conditions: conditions(
        false,
        'UnderlayFailed',
        'Underlay failed validation, existing FRR configuration left as-is',
        ts,
        prev,
      ),
      failedResources: failedResources.filter((r) => r.kind === 'Underlay'),
    };
  }
  if (outcome.kind === 'error') {
    return {
      conditions: conditions(false, 'ConfigurationFailed', outcome.message, ts, prev),
      failedResources,
    };
  }
  if (failedResources.length > 0) {
    return {
      conditions: conditions(
        false,
        'ConfigurationFailed',
        'Some resources failed validation, see status.failedResources for details',
        ts,
        prev,
      ),
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
