// Kubernetes Events, on transitions only (never one per pass): where `kubectl describe` users look.
// - on the routing object that starts failing on this node (Warning, reason ValidationFailed /
//   DependencyFailed, the status message), and once when it applies again (Normal, Applied);
// - on the Node when the node's Ready condition changes (reason = the condition's reason).
// The starting point is the status the API held when the controller started, so a restart with
// nothing changed emits nothing.
import { randomBytes } from 'node:crypto';
import { API_VERSION } from '../../api/kinds.js';
import type { FailedResource, RouterNodeConfigurationStatusStatus } from '../../api/schema/status.js';
import type { Logger } from '../../frr/log.js';
import { type CoreEvent, EVENTS, errorMessage, type KubeClient, Resource, time } from '../client/index.js';

const COMPONENT = 'openperouter-controller';
/** Event messages are limited to 1 KiB by the API server. */
const MAX_MESSAGE = 1024;

/** The uid and namespace of a routing object by kind and name; undefined when it is gone. */
export type ObjectLocator = (kind: string, name: string) => { uid: string; namespace?: string } | undefined;

const failureKey = (f: FailedResource) => `${f.kind}\u0000${f.name}\u0000${f.reason}\u0000${f.message}`;
const objectKey = (f: { kind: string; name: string }) => `${f.kind}\u0000${f.name}`;

export class TransitionEvents {
  private readonly api: Resource<CoreEvent>;
  private failing = new Map<string, FailedResource>();
  private ready: string | undefined;
  /** Events created (for logs and tests). */
  created = 0;

  constructor(
    client: KubeClient,
    private readonly o: { nodeName: string; log: Logger },
    initial: RouterNodeConfigurationStatusStatus | undefined,
  ) {
    this.api = new Resource(client, EVENTS);
    this.reset(initial);
  }

  /** Takes `status` as what has already been announced (no Events for it). */
  reset(status: RouterNodeConfigurationStatusStatus | undefined): void {
    this.failing = new Map((status?.failedResources ?? []).map((f) => [failureKey(f), f]));
    const c = status?.conditions?.find((x) => x.type === 'Ready');
    this.ready = c ? `${c.status}/${c.reason}` : undefined;
  }

  /** Emits the Events of the transition from the last status to `status`. Never throws. */
  async record(
    status: RouterNodeConfigurationStatusStatus,
    locate: ObjectLocator,
    nodeUid: string | undefined,
  ): Promise<void> {
    const now = new Date();
    const next = new Map((status.failedResources ?? []).map((f) => [failureKey(f), f]));
    const stillFailing = new Set([...next.values()].map(objectKey));
    const writes: Promise<void>[] = [];
    for (const [key, f] of next) {
      if (this.failing.has(key)) continue;
      const where = locate(f.kind, f.name);
      if (!where) continue;
      writes.push(
        this.emit(
          now,
          { kind: f.kind, name: f.name, ...where, apiVersion: API_VERSION },
          'Warning',
          f.reason,
          `node ${this.o.nodeName}: ${f.message}`,
        ),
      );
    }
    const recovered = new Set<string>();
    for (const f of this.failing.values()) {
      const k = objectKey(f);
      if (stillFailing.has(k) || recovered.has(k)) continue;
      recovered.add(k);
      const where = locate(f.kind, f.name);
      if (!where) continue; // deleted: nothing to tell
      writes.push(
        this.emit(
          now,
          { kind: f.kind, name: f.name, ...where, apiVersion: API_VERSION },
          'Normal',
          'Applied',
          `node ${this.o.nodeName}: applied`,
        ),
      );
    }
    const c = status.conditions?.find((x) => x.type === 'Ready');
    const ready = c ? `${c.status}/${c.reason}` : undefined;
    if (c && ready !== this.ready) {
      writes.push(
        this.emit(
          now,
          { kind: 'Node', name: this.o.nodeName, apiVersion: 'v1', ...(nodeUid ? { uid: nodeUid } : {}) },
          c.status === 'True' ? 'Normal' : 'Warning',
          c.reason,
          c.message,
        ),
      );
    }
    this.failing = next;
    this.ready = ready;
    await Promise.all(writes);
  }

  private async emit(
    now: Date,
    target: { kind: string; name: string; apiVersion: string; namespace?: string; uid?: string },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    // Events of cluster-scoped objects (the Node) live in "default", as kubelet's do.
    const namespace = target.namespace ?? 'default';
    const body: CoreEvent = {
      metadata: {
        name: `${target.name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`,
        namespace,
      },
      involvedObject: {
        apiVersion: target.apiVersion,
        kind: target.kind,
        name: target.name,
        ...(target.namespace ? { namespace: target.namespace } : {}),
        ...(target.uid ? { uid: target.uid } : {}),
      },
      type,
      reason,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
      count: 1,
      firstTimestamp: time(now),
      lastTimestamp: time(now),
      source: { component: COMPONENT, host: this.o.nodeName },
      reportingComponent: COMPONENT,
      reportingInstance: this.o.nodeName,
    };
    try {
      await this.api.create(body, namespace);
      this.created++;
    } catch (err) {
      this.o.log.warn(
        { event: `${target.kind} ${namespace}/${target.name} ${reason}`, err: errorMessage(err) },
        'cannot create an Event',
      );
    }
  }
}
