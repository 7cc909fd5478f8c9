// The node's RouterNodeConfigurationStatus: one object per node, named after it, in the controller's
// namespace, owned by the Node (deleted with it). Written through the status subresource, and only
// when the status differs from what the API holds: a pass that changes nothing writes nothing.
import { API_VERSION, GROUP, KINDS, VERSION } from '../../api/kinds.js';
import type { RouterNodeConfigurationStatusStatus } from '../../api/schema/status.js';
import type { Logger } from '../../frr/log.js';
import { errorMessage, isApiError, type KubeClient, type KubeObject, Resource } from '../client/index.js';

interface StatusObject extends KubeObject {
  status?: RouterNodeConfigurationStatusStatus;
}

const STATUSES = {
  group: GROUP,
  version: VERSION,
  plural: KINDS.RouterNodeConfigurationStatus.plural,
  namespaced: true,
};

/** Order-insensitive to keys, order-sensitive to arrays: what "the same status" means here. */
function sameJson(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(norm)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .filter(([, x]) => x !== undefined)
              .sort(([x], [y]) => (x < y ? -1 : 1))
              .map(([k, x]) => [k, norm(x)]),
          )
        : v;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

export class StatusWriter {
  private readonly api: Resource<StatusObject>;
  /** The status the API holds, as far as this process knows (undefined: none, or unknown). */
  private stored: RouterNodeConfigurationStatusStatus | undefined;
  /** True once `stored` reflects the API (a read or a write succeeded). */
  private known = false;
  private lastRefresh = 0;
  /** Status writes done (for logs and tests). */
  writes = 0;

  constructor(
    client: KubeClient,
    private readonly o: { nodeName: string; namespace: string; log: Logger; refreshMs: number },
  ) {
    this.api = new Resource(client, STATUSES);
  }

  /** The stored status (for lastTransitionTime continuity and transition detection). */
  current(): RouterNodeConfigurationStatusStatus | undefined {
    return this.stored;
  }

  /** Reads the stored object (at start, and again every refreshMs so that drift is noticed). */
  async refresh(force = false): Promise<void> {
    if (!force && this.known && Date.now() - this.lastRefresh < this.o.refreshMs) return;
    try {
      const obj = await this.api.get(this.o.nodeName, this.o.namespace);
      this.stored = obj.status;
      this.known = true;
    } catch (err) {
      if (isApiError(err, 404)) {
        this.stored = undefined;
        this.known = true;
      } else {
        this.known = false;
        this.o.log.warn({ err: errorMessage(err) }, 'cannot read the node status object');
      }
    }
    this.lastRefresh = Date.now();
  }

  /** Writes `status` unless the API already holds it. Returns whether it wrote. Never throws. */
  async write(status: RouterNodeConfigurationStatusStatus, nodeUid: string | undefined): Promise<boolean> {
    await this.refresh();
    if (this.known && this.stored !== undefined && sameJson(this.stored, status)) return false;
    const patchStatus = () =>
      this.api.mergePatch(
        this.o.nodeName,
        { status },
        { namespace: this.o.namespace, subresource: 'status' },
      );
    try {
      try {
        await patchStatus();
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
        await this.api.create(
          {
            apiVersion: API_VERSION,
            kind: 'RouterNodeConfigurationStatus',
            metadata: {
              name: this.o.nodeName,
              namespace: this.o.namespace,
              labels: { 'app.kubernetes.io/managed-by': 'openperouter-controller' },
              ...(nodeUid
                ? {
                    ownerReferences: [
                      { apiVersion: 'v1', kind: 'Node', name: this.o.nodeName, uid: nodeUid },
                    ],
                  }
                : {}),
            },
          },
          this.o.namespace,
        );
        await patchStatus();
      }
      this.stored = status;
      this.known = true;
      this.writes++;
      return true;
    } catch (err) {
      this.known = false;
      this.o.log.error({ err: errorMessage(err) }, 'cannot write the node status');
      return false;
    }
  }
}
