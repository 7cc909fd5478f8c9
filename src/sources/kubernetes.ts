// Kubernetes mode's input: informers (list + watch, src/k8s/client's Informer) on the routing
// objects, on this node's Node object and on the Secrets that Underlay neighbors name in
// `passwordSecret`. A pass reads the informers' caches; every object goes through the same
// validateObject as static mode's files (the API server checked the CRD schema, but not our per-object
// rules, and objects stored before a CRD upgrade may no longer validate). An object that does not
// validate is skipped and reported; its last good version (seen by this process, or saved by an
// earlier one, see saveState) is used instead, as static mode does.
//
// Scope (as upstream): Underlay, L3VNI, L2VNI, L3Passthrough and L3VPN count in every namespace;
// RawFRRConfig only in the controller's namespace (the operator namespace). Secrets are read one by
// one (a watch with fieldSelector metadata.name per referenced Secret, in the Underlay's namespace),
// never listed cluster-wide.
//
// Watches: the Informer handles a 410 Expired (relist) and retries any other error with exponential
// backoff (restartBackoffMs..restartBackoffMaxMs), resuming from the last resourceVersion (a stale
// one gets 410 and a relist); errors are logged and counted here.

import type { ValidationIssue } from '../api/issues.js';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/kinds.js';
import { toSnapshot } from '../api/load.js';
import { selectForNode } from '../api/node-rules.js';
import { type ApiSnapshot, objectKey, type RoutingObject } from '../api/types.js';
import { type ObjectValidation, validateObject } from '../api/validate-object.js';
import type { Logger } from '../frr/log.js';
import {
  collectionPath,
  Informer,
  type KubeClient,
  type KubeObject,
  NODES,
  SECRETS,
  type Secret,
} from '../k8s/client/index.js';

export const NODE_INDEX_ANNOTATION = 'openpe.io/nodeindex';

/** The routing kinds read from the API, and where. */
const ROUTING_KINDS = ['Underlay', 'L3VNI', 'L2VNI', 'L3Passthrough', 'L3VPN', 'RawFRRConfig'] as const;
type RoutingKind = (typeof ROUTING_KINDS)[number];
const OPERATOR_NAMESPACE_ONLY: ReadonlySet<RoutingKind> = new Set(['RawFRRConfig']);

/** Same bounds as an inline `password` (schema): FRR takes the word as is, whitespace would end it. */
const PASSWORD = /^\S{1,128}$/;

export interface KubernetesSourceOptions {
  nodeName: string;
  /** The controller's (operator) namespace: RawFRRConfig objects are read there only. */
  namespace: string;
  log: Logger;
  /** Called on every change that may change the node's desired state (coalesce it). */
  onChange: (what: string) => void;
  /** A watch failed and will be retried (for metrics). */
  onWatchError?: (resource: string) => void;
  /** First retry delay after a watch error; doubles up to restartBackoffMaxMs (default 30 000). Default 1000. */
  restartBackoffMs?: number;
  restartBackoffMaxMs?: number;
}

export interface NodeInfo {
  name: string;
  uid?: string;
  labels: Record<string, string>;
  /** The node index (annotation openpe.io/nodeindex); undefined until it is usable. */
  index?: number;
  /** Why there is no index (no Node, no annotation, an unusable one). */
  problem?: string;
}

export interface KubernetesRead {
  snapshot: ApiSnapshot;
  /** Objects that did not validate, passwordSecrets that cannot be used. */
  issues: ValidationIssue[];
  /** The password of a neighbor's passwordSecret (for resolveNode); undefined when unusable. */
  secretPassword: (namespace: string | undefined, name: string) => string | undefined;
}

/** What saveState returns and restoreState takes (JSON-serialisable). */
export interface KubernetesSourceState {
  version: 1;
  source: 'kubernetes';
  objects: RoutingObject[];
}

/** An Informer, its sync state and its last error (the informer retries by itself, with backoff). */
class Watched {
  readonly informer: Informer<KubeObject>;
  lastError: string | undefined;
  private stopped = false;

  constructor(
    readonly label: string,
    client: KubeClient,
    path: string,
    fieldSelector: string | undefined,
    private readonly src: KubernetesSource,
    onEvent: () => void,
  ) {
    this.informer = new Informer<KubeObject>({
      client,
      path,
      ...(fieldSelector !== undefined ? { fieldSelector } : {}),
      retryInitialMs: src.backoffInitialMs,
      retryMaxMs: src.backoffMaxMs,
      onList: () => {
        this.lastError = undefined;
      },
      onAdd: onEvent,
      onUpdate: onEvent,
      onDelete: onEvent,
      onError: (err, retryInMs) => this.failed(err, retryInMs),
    });
  }

  get synced(): boolean {
    return this.informer.synced;
  }

  start(): Promise<void> {
    this.stopped = false;
    return this.informer.start();
  }

  stop(): void {
    this.stopped = true;
    this.informer.stop();
  }

  private failed(err: unknown, retryInMs: number): void {
    if (this.stopped) return;
    // An ApiError's message already says METHOD path: code reason: message.
    this.lastError = err instanceof Error ? err.message : String(err);
    this.src.watchFailed(this.label, this.lastError, retryInMs);
  }
}

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class KubernetesSource {
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  private readonly routing = new Map<RoutingKind, Watched>();
  private readonly node: Watched;
  private readonly secrets = new Map<string, Watched>();
  private lastGood = new Map<string, RoutingObject>();
  private readonly validated = new Map<string, { version: string; result: ObjectValidation }>();
  private lastNodeKey = '';
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly o: KubernetesSourceOptions,
  ) {
    this.backoffInitialMs = o.restartBackoffMs ?? 1000;
    this.backoffMaxMs = o.restartBackoffMaxMs ?? 30_000;
    for (const kind of ROUTING_KINDS) {
      const plural = KINDS[kind].plural;
      const ns = OPERATOR_NAMESPACE_ONLY.has(kind) ? o.namespace : undefined;
      const path = collectionPath({ group: GROUP, version: VERSION, plural, namespaced: true }, ns);
      this.routing.set(kind, new Watched(plural, client, path, undefined, this, () => o.onChange(plural)));
    }
    const byName = `metadata.name=${o.nodeName}`;
    this.node = new Watched('nodes', client, collectionPath(NODES), byName, this, () => {
      // Heartbeats and status updates of the Node do not matter: only its labels and its index.
      const n = this.nodeInfo();
      const key = JSON.stringify([n.uid, n.labels, n.index, n.problem]);
      if (key !== this.lastNodeKey) {
        this.lastNodeKey = key;
        o.onChange('nodes');
      }
    });
  }

  /** Starts every informer; resolves when each has tried its first list (see unsynced()). */
  async start(): Promise<void> {
    await Promise.all([...this.routing.values(), this.node].map((i) => i.start()));
  }

  stop(): void {
    this.stopped = true;
    for (const i of [...this.routing.values(), this.node, ...this.secrets.values()]) i.stop();
    this.secrets.clear();
  }

  /** @internal (Informer) */
  watchFailed(resource: string, error: string, retryInMs: number): void {
    if (this.stopped) return;
    this.o.log.warn({ resource, err: error, retryInMs }, 'watch failed, restarting it');
    this.o.onWatchError?.(resource);
  }

  /** Resources whose first list has not succeeded yet, with the last error. */
  unsynced(): string[] {
    return [...this.routing.values(), this.node]
      .filter((i) => !i.synced)
      .map((i) => (i.lastError ? `${i.label} (${i.lastError})` : i.label));
  }

  /** This node: labels, uid, and the node index once the nodemarker has annotated it. */
  nodeInfo(): NodeInfo {
    const name = this.o.nodeName;
    const n = this.node.informer.get(name);
    if (!n) return { name, labels: {}, problem: `Node ${JSON.stringify(name)} not found` };
    const labels = { ...(n.metadata?.labels ?? {}) };
    const uid = n.metadata?.uid;
    const raw = n.metadata?.annotations?.[NODE_INDEX_ANNOTATION];
    const base = { name, labels, ...(uid ? { uid } : {}) };
    if (raw === undefined) {
      return {
        ...base,
        problem: `Node ${name} has no annotation ${NODE_INDEX_ANNOTATION} yet (the nodemarker writes it)`,
      };
    }
    const index = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(index)) {
      return {
        ...base,
        problem: `Node ${name}: annotation ${NODE_INDEX_ANNOTATION} is ${JSON.stringify(raw)}, not a non-negative integer`,
      };
    }
    return { ...base, index };
  }

  /** The uid of a routing object in the caches (for Events); first match when no namespace is given. */
  uidOf(kind: string, name: string, namespace?: string): { uid: string; namespace?: string } | undefined {
    const inf = this.routing.get(kind as RoutingKind);
    if (!inf) return undefined;
    const o =
      namespace !== undefined
        ? inf.informer.get(name, namespace)
        : inf.informer.list().find((x) => x.metadata?.name === name);
    const uid = o?.metadata?.uid;
    if (!uid) return undefined;
    return { uid, ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) };
  }

  private validate(kind: RoutingKind, raw: KubeObject): ObjectValidation {
    const m = raw.metadata ?? {};
    const key = `${kind} ${keyOf(m.namespace, m.name ?? '')}`;
    const version = `${m.uid ?? ''}@${m.resourceVersion ?? ''}`;
    const memo = this.validated.get(key);
    if (memo && memo.version === version && m.resourceVersion !== undefined) return memo.result;
    // Lists of custom objects carry apiVersion and kind on every item; be lenient if one does not.
    const doc = { ...raw, apiVersion: raw.apiVersion ?? API_VERSION, kind: raw.kind ?? kind };
    const result = validateObject(doc);
    this.validated.set(key, { version, result });
    return result;
  }

  /**
   * The objects of this pass (validated; last good versions for invalid ones) and the passwords of
   * the passwordSecrets the Underlays selecting this node (`labels`) name. Starts and stops the
   * Secret watches as the references change, and waits for the first list of a new one.
   */
  async read(labels: Record<string, string>): Promise<KubernetesRead> {
    const issues: ValidationIssue[] = [];
    const objects: RoutingObject[] = [];
    const nextGood = new Map<string, RoutingObject>();
    const seen = new Set<string>();
    for (const [kind, inf] of this.routing) {
      for (const raw of inf.informer.list()) {
        const m = raw.metadata ?? {};
        const key = objectKey({
          kind,
          metadata: { name: m.name ?? '', ...(m.namespace ? { namespace: m.namespace } : {}) },
        });
        seen.add(`${kind} ${keyOf(m.namespace, m.name ?? '')}`);
        const v = this.validate(kind, raw);
        if (v.object) {
          objects.push(v.object);
          nextGood.set(key, v.object);
          continue;
        }
        const good = this.lastGood.get(key);
        if (good) {
          objects.push(good);
          nextGood.set(key, good);
          for (const i of v.issues)
            issues.push({ ...i, message: `${i.message}; keeping its last good version` });
        } else {
          issues.push(...v.issues);
        }
      }
    }
    this.lastGood = nextGood;
    for (const k of this.validated.keys()) if (!seen.has(k)) this.validated.delete(k);
    const snapshot = toSnapshot(objects);
    const secretIssues = await this.syncSecrets(snapshot, labels);
    issues.push(...secretIssues);
    return { snapshot, issues, secretPassword: (ns, name) => this.password(ns, name).password };
  }

  /** The password of a Secret from its watch's cache, or why there is none. */
  private password(namespace: string | undefined, name: string): { password?: string; problem?: string } {
    const inf = this.secrets.get(keyOf(namespace, name));
    if (!inf) return { problem: 'not watched' };
    if (!inf.synced) return { problem: `cannot read it: ${inf.lastError ?? 'not listed yet'}` };
    const s = inf.informer.get(name, namespace) as Secret | undefined;
    if (!s) return { problem: 'not found' };
    const b64 = s.data?.['password'];
    if (b64 === undefined) return { problem: 'has no key "password"' };
    const password = Buffer.from(b64, 'base64').toString('utf8');
    if (!PASSWORD.test(password)) {
      return {
        problem: `key "password" must be 1 to 128 characters without whitespace (got ${password.length} characters${/\s/.test(password) ? ' with whitespace' : ''})`,
      };
    }
    return { password };
  }

  /** Watches exactly the Secrets named by the Underlays that select this node; reports unusable ones. */
  private async syncSecrets(
    snapshot: ApiSnapshot,
    labels: Record<string, string>,
  ): Promise<ValidationIssue[]> {
    const refs: { underlay: RoutingObject; neighbor: number; namespace: string | undefined; name: string }[] =
      [];
    for (const u of selectForNode(snapshot, labels).underlays) {
      u.spec.neighbors.forEach((n, i) => {
        if (n.passwordSecret !== undefined)
          refs.push({ underlay: u, neighbor: i, namespace: u.metadata.namespace, name: n.passwordSecret });
      });
    }
    const wanted = new Map(refs.map((r) => [keyOf(r.namespace, r.name), r]));
    for (const [key, inf] of this.secrets) {
      if (!wanted.has(key)) {
        inf.stop();
        this.secrets.delete(key);
      }
    }
    const starting: Promise<void>[] = [];
    for (const [key, r] of wanted) {
      if (this.secrets.has(key) || this.stopped) continue;
      const ns = r.namespace ?? 'default';
      const inf = new Watched(
        `secrets ${ns}/${r.name}`,
        this.client,
        collectionPath(SECRETS, ns),
        `metadata.name=${r.name}`,
        this,
        () => this.o.onChange('secrets'),
      );
      this.secrets.set(key, inf);
      starting.push(inf.start());
    }
    await Promise.all(starting);
    const issues: ValidationIssue[] = [];
    for (const r of refs) {
      const { problem } = this.password(r.namespace, r.name);
      // "not found" is what resolveNode reports itself; say more only when the Secret exists or cannot be read.
      if (problem === undefined || problem === 'not found') continue;
      issues.push({
        kind: 'Underlay',
        name: r.underlay.metadata.name,
        ...(r.namespace ? { namespace: r.namespace } : {}),
        field: `spec.neighbors[${r.neighbor}].passwordSecret`,
        message: `Secret ${r.namespace ?? 'default'}/${r.name} ${problem}`,
      });
    }
    return issues;
  }

  /** The last good objects, to be given to restoreState by a later process. */
  saveState(): KubernetesSourceState {
    const objects = [...this.lastGood.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
    return { version: 1, source: 'kubernetes', objects };
  }

  /** Seeds the last good versions (before the first read); objects that no longer validate are dropped. */
  restoreState(state: unknown): string[] {
    const s = state as Partial<KubernetesSourceState> | null;
    if (
      s === null ||
      typeof s !== 'object' ||
      s.version !== 1 ||
      s.source !== 'kubernetes' ||
      !Array.isArray(s.objects)
    )
      return ['not a saved Kubernetes-mode state (version 1)'];
    const problems: string[] = [];
    for (const o of s.objects as unknown[]) {
      const v = validateObject(o);
      if (v.object) this.lastGood.set(objectKey(v.object), v.object);
      else problems.push(`a saved object no longer validates: ${v.issues.map((i) => i.message).join('; ')}`);
    }
    return problems;
  }
}
