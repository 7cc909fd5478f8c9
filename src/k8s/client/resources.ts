// The resources we call, their paths, and the few fields of their objects we read or write (small
// local shapes, not generated models: anything else an object carries is kept as is and passed back).
// Resource<T> is the typed helper over KubeClient: list, get, create, replace, merge patch (of the
// object or its /status), delete.
import { type KubeClient, MERGE_PATCH_CONTENT } from './http.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export type Node = KubeObject;

export interface Secret extends KubeObject {
  type?: string;
  /** base64 values. */
  data?: Record<string, string>;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime, RFC 3339 with microseconds (see microTime). */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** core/v1 Event. */
export interface CoreEvent extends KubeObject {
  involvedObject: { apiVersion?: string; kind?: string; name?: string; namespace?: string; uid?: string };
  type?: 'Normal' | 'Warning';
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

export interface ValidatingWebhook {
  name: string;
  clientConfig: { caBundle?: string; [field: string]: unknown };
  [field: string]: unknown;
}

export interface ValidatingWebhookConfiguration extends KubeObject {
  webhooks?: ValidatingWebhook[];
}

/** A resource: where it is served and whether it is namespaced. */
export interface ResourceType {
  /** '' for the core group (/api/v1). */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const NODES: ResourceType = { group: '', version: 'v1', plural: 'nodes', namespaced: false };
export const SECRETS: ResourceType = { group: '', version: 'v1', plural: 'secrets', namespaced: true };
export const EVENTS: ResourceType = { group: '', version: 'v1', plural: 'events', namespaced: true };
export const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  namespaced: true,
};
export const VALIDATING_WEBHOOK_CONFIGURATIONS: ResourceType = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'validatingwebhookconfigurations',
  namespaced: false,
};

/**
 * The collection path: `/api/v1/nodes`, `/apis/g/v/namespaces/ns/plural`; a namespaced resource
 * without a namespace is the all-namespaces collection (`/apis/g/v/plural`).
 */
export function collectionPath(r: ResourceType, namespace?: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.plural}`;
}

export function objectPath(r: ResourceType, name: string, namespace?: string, subresource?: string): string {
  if (r.namespaced && namespace === undefined) throw new Error(`${r.plural} ${name}: a namespace is needed`);
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

/** A MicroTime as the API server writes it (RFC 3339, 6 fractional digits). */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

/** A Time as the API server writes it (RFC 3339, whole seconds). */
export function time(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ListOptions {
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
}

export class Resource<T extends KubeObject> {
  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
  ) {}

  list(o: ListOptions = {}): Promise<ObjectList<T>> {
    return this.client.request('GET', collectionPath(this.type, o.namespace), {
      query: { fieldSelector: o.fieldSelector, labelSelector: o.labelSelector },
    });
  }

  get(name: string, namespace?: string): Promise<T> {
    return this.client.request('GET', objectPath(this.type, name, namespace));
  }

  /** Creates `body` in its metadata.namespace (or `namespace`). */
  create(body: T, namespace = body.metadata?.namespace): Promise<T> {
    return this.client.request('POST', collectionPath(this.type, namespace), { body });
  }

  /** PUT of the whole object; its metadata.resourceVersion makes a stale write a 409. */
  replace(body: T): Promise<T> {
    const m = body.metadata ?? {};
    if (!m.name) throw new Error(`${this.type.plural}: replace needs metadata.name`);
    return this.client.request('PUT', objectPath(this.type, m.name, m.namespace), { body });
  }

  /** A JSON merge patch (RFC 7386) of the object, or of its /status with `subresource: 'status'`. */
  mergePatch(
    name: string,
    patch: unknown,
    o: { namespace?: string; subresource?: 'status' } = {},
  ): Promise<T> {
    return this.client.request('PATCH', objectPath(this.type, name, o.namespace, o.subresource), {
      body: patch,
      contentType: MERGE_PATCH_CONTENT,
    });
  }

  delete(name: string, namespace?: string): Promise<unknown> {
    return this.client.request('DELETE', objectPath(this.type, name, namespace));
  }
}
