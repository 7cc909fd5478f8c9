// Storage of the API server stand-in: objects per resource, one global monotonically increasing
// resourceVersion (like etcd's revision), and a bounded history of change events that watches are
// served from. A watch asking for a resourceVersion older than the history window is told 410 Gone.
import type { KObject } from './standin-json.js';
import { meta, str } from './standin-json.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  /** resourceVersion of the change. */
  rv: number;
  /** storageKey() of the resource. */
  resource: string;
  object: KObject;
  /** The object before a MODIFIED change (label-selector watches turn it into ADDED/DELETED). */
  old?: KObject;
}

export interface StoreWatcher {
  resource: string;
  deliver(ev: StoreEvent): void;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class Store {
  private rv = 0;
  private readonly objects = new Map<string, Map<string, KObject>>();
  private readonly history: StoreEvent[] = [];
  /** Highest resourceVersion whose event is no longer in the history (watches from below it get 410). */
  compactedRv = 0;
  readonly watchers = new Set<StoreWatcher>();

  constructor(private readonly historyLimit: number) {}

  get resourceVersion(): number {
    return this.rv;
  }

  private bucket(resource: string): Map<string, KObject> {
    let b = this.objects.get(resource);
    if (!b) {
      b = new Map();
      this.objects.set(resource, b);
    }
    return b;
  }

  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    return this.bucket(resource).get(objectKey(namespace, name));
  }

  /** Objects sorted by namespace/name; all namespaces when `namespace` is undefined. */
  list(resource: string, namespace?: string): KObject[] {
    return [...this.bucket(resource).entries()]
      .filter(([, o]) => namespace === undefined || (str(meta(o)['namespace']) ?? '') === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  /**
   * Stores (ADDED/MODIFIED) or removes (DELETED) an object: assigns the next resourceVersion, records
   * the event and tells the watchers. Returns the object as stored.
   */
  commit(type: EventType, resource: string, object: KObject, old?: KObject): KObject {
    this.rv += 1;
    const stored = structuredClone(object);
    const m = meta(stored);
    m['resourceVersion'] = String(this.rv);
    const key = objectKey(str(m['namespace']), str(m['name']) ?? '');
    if (type === 'DELETED') this.bucket(resource).delete(key);
    else this.bucket(resource).set(key, stored);
    const ev: StoreEvent = { type, rv: this.rv, resource, object: stored, ...(old ? { old } : {}) };
    this.history.push(ev);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRv = dropped.rv;
    }
    for (const w of this.watchers) if (w.resource === resource) w.deliver(ev);
    return stored;
  }

  /** Events of `resource` after `rv`, oldest first. */
  since(resource: string, rv: number): StoreEvent[] {
    return this.history.filter((e) => e.rv > rv && e.resource === resource);
  }

  /** Forgets the whole history: any watch from an older resourceVersion gets 410. */
  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }
}
