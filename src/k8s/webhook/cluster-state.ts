// What the webhooks read for the cross-object rules: every routing object of every kind, in every
// namespace (objects in any namespace select nodes), and the Nodes' labels. Uncached reads, as
// upstream's APIReader: an admission decision must see the latest state, not an informer's.
import { GROUP, KINDS, VERSION } from '../../api/kinds.js';
import { type KubeClient, NODES, type Node, type ObjectList, Resource } from '../client/index.js';
import {
  type AdmissionRequest,
  type ClusterState,
  type DecideOptions,
  decide,
  WEBHOOK_KINDS,
} from './admission.js';

function items(list: unknown): unknown[] {
  const v = (list as { items?: unknown }).items;
  return Array.isArray(v) ? v : [];
}

/** Lists every routing object (all webhook kinds, all namespaces) and every Node. */
export async function readClusterState(client: KubeClient): Promise<ClusterState> {
  const kinds = Object.values(WEBHOOK_KINDS);
  const [nodes, ...lists] = await Promise.all([
    new Resource<Node>(client, NODES).list(),
    ...kinds.map(
      (k): Promise<ObjectList<unknown>> =>
        new Resource(client, {
          group: GROUP,
          version: VERSION,
          plural: KINDS[k].plural,
          namespaced: true,
        }).list(),
    ),
  ]);
  return {
    // The API server omits apiVersion/kind on list items of custom resources in some versions.
    objects: lists.flatMap((l, i) =>
      items(l).map((o) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: kinds[i], ...(o as object) })),
    ),
    nodes: nodes.items.map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} })),
  };
}

/** The webhook's validate function: reads the cluster, then decides. */
export function clusterValidator(
  client: KubeClient,
  opts: DecideOptions,
): (pathKind: string, req: AdmissionRequest) => Promise<ReturnType<typeof decide>> {
  return async (pathKind, req) => {
    if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { allowed: true, warnings: [] };
    if (req.kind?.kind !== pathKind) {
      return {
        allowed: false,
        code: 400,
        message: `this webhook validates ${pathKind} objects, the request is for ${req.kind?.kind ?? '(no kind)'}`,
        warnings: [],
      };
    }
    return decide(req, await readClusterState(client), opts);
  };
}
