// Node facts for the offline commands: from flags, or from Node objects found among the manifests.
import type { NodeFacts } from '../render/model.js';

export const NODE_INDEX_ANNOTATION = 'openpe.io/nodeindex';

export function parseLabel(s: string, acc: Record<string, string> = {}): Record<string, string> {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new Error(`--node-label ${JSON.stringify(s)}: expected key=value`);
  acc[s.slice(0, eq)] = s.slice(eq + 1);
  return acc;
}

export function parseIndex(s: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`node index ${JSON.stringify(s)}: expected a non-negative integer`);
  return Number(s);
}

/** A Kubernetes Node object (v1) as found in `kubectl get nodes -o yaml`. */
export function nodeFactsFromNode(doc: unknown): NodeFacts | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  const o = doc as {
    apiVersion?: unknown;
    kind?: unknown;
    metadata?: { name?: unknown; labels?: unknown; annotations?: unknown };
  };
  if (o.apiVersion !== 'v1' || o.kind !== 'Node' || typeof o.metadata?.name !== 'string') return undefined;
  const labels = (o.metadata.labels ?? {}) as Record<string, string>;
  const annotations = (o.metadata.annotations ?? {}) as Record<string, string>;
  const idx = annotations[NODE_INDEX_ANNOTATION];
  return {
    name: o.metadata.name,
    index: idx !== undefined && /^\d+$/.test(idx) ? Number(idx) : 0,
    labels: { 'kubernetes.io/hostname': o.metadata.name, ...labels },
  };
}
