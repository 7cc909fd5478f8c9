// An informer: a local cache of one collection kept current by list + watch, as client-go's
// reflector does it. List → cache keyed namespace/name, add/update/delete for the differences; watch
// from the list's resourceVersion, tracking the resourceVersion of every event and bookmark. A watch
// the server ends (its timeout) is resumed from the last resourceVersion; a 410 Expired (as the
// watch's HTTP status or as an ERROR event) means that resourceVersion is gone: list again and emit
// the differences (deletes for objects that went away meanwhile). Any other failure goes to onError
// and is retried after a delay that doubles from retryInitialMs up to retryMaxMs and starts again
// after a successful list or watch (resuming from the last resourceVersion, or listing if it never
// listed): every user of an informer wants it kept alive, so the policy lives here, once.
import type { KubeClient } from './http.js';
import type { KubeObject, ObjectList } from './resources.js';
import { type WatchEvent, watch } from './watch.js';

export interface InformerHandlers<T> {
  onAdd?: (o: T) => void;
  onUpdate?: (o: T, old: T) => void;
  onDelete?: (o: T) => void;
  /** After every successful list (the first one makes the informer synced). */
  onList?: () => void;
  /** A list or watch failed with something else than 410; the informer tries again in `retryInMs`. */
  onError?: (err: unknown, retryInMs: number) => void;
}

export interface InformerOptions<T> extends InformerHandlers<T> {
  client: KubeClient;
  /** The collection, e.g. /api/v1/nodes or /apis/<group>/<version>/namespaces/<ns>/<plural>. */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /**
   * The server ends each watch after a random time in [watchTimeoutSeconds, 2 × watchTimeoutSeconds)
   * (default 300, as client-go), spreading the reconnections of many clients.
   */
  watchTimeoutSeconds?: number;
  /** Delay before the first retry after a failure (default 1000 ms); it doubles up to retryMaxMs. */
  retryInitialMs?: number;
  /** Default 30 000 ms. */
  retryMaxMs?: number;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** Bounds the rewatch rate when a server ends watches at once (misbehaving proxy, say). */
const MIN_WATCH_MS = 1000;

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private rv = '';
  private run: AbortController | undefined;
  /** True once a list has succeeded. */
  synced = false;

  constructor(private readonly o: InformerOptions<T>) {}

  /** The object in the cache (cluster-scoped objects: no namespace). */
  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  /** Every cached object (of one namespace, if given). */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((x) => x.metadata?.namespace === namespace);
  }

  /** The resourceVersion the next watch resumes from ('' = list first). */
  get resourceVersion(): string {
    return this.rv;
  }

  /**
   * Starts (or restarts) listing and watching until stop(). Resolves once the first list was tried
   * and, when it succeeded, the watch was opened or failed; never rejects (failures go to onError).
   */
  start(): Promise<void> {
    this.run?.abort();
    const run = new AbortController();
    this.run = run;
    return new Promise((resolve) => {
      void this.loop(run.signal, resolve).then(resolve, resolve);
    });
  }

  stop(): void {
    this.run?.abort();
    this.run = undefined;
  }

  private async loop(signal: AbortSignal, started: () => void): Promise<void> {
    const timeout = this.o.watchTimeoutSeconds ?? 300;
    const firstRetryMs = this.o.retryInitialMs ?? 1000;
    let retryMs = firstRetryMs;
    while (!signal.aborted) {
      try {
        if (this.rv === '') {
          await this.relist(signal);
          retryMs = firstRetryMs;
        }
        if (signal.aborted) return;
        const began = Date.now();
        let events = 0;
        await watch<T>(
          this.o.client,
          this.o.path,
          (e) => {
            events++;
            this.apply(e);
          },
          {
            resourceVersion: this.rv,
            ...(this.o.fieldSelector !== undefined ? { fieldSelector: this.o.fieldSelector } : {}),
            ...(this.o.labelSelector !== undefined ? { labelSelector: this.o.labelSelector } : {}),
            timeoutSeconds: Math.floor(timeout * (1 + Math.random())),
            // The server sends a bookmark about every minute and ends the watch at its timeout: this
            // long without a byte means the connection is dead.
            idleTimeoutMs: (2 * timeout + 60) * 1000,
            signal,
            onOpen: () => {
              retryMs = firstRetryMs;
              started();
            },
          },
        );
        // Ended normally: resume from the last resourceVersion.
        if (events === 0 && Date.now() - began < MIN_WATCH_MS) await sleep(MIN_WATCH_MS, signal);
      } catch (err) {
        if (signal.aborted) return;
        if ((err as { code?: unknown }).code === 410) {
          this.rv = '';
          continue;
        }
        started();
        this.o.onError?.(err, retryMs);
        await sleep(retryMs, signal);
        retryMs = Math.min(this.o.retryMaxMs ?? 30_000, retryMs * 2);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const list = await this.o.client.request<ObjectList<T>>('GET', this.o.path, {
      query: { fieldSelector: this.o.fieldSelector, labelSelector: this.o.labelSelector },
    });
    if (signal.aborted) return;
    const fresh = new Map<string, T>();
    for (const item of list.items ?? []) fresh.set(keyOf(item), item);
    for (const [k, old] of this.cache) {
      if (fresh.has(k)) continue;
      this.cache.delete(k);
      this.o.onDelete?.(old);
    }
    for (const item of fresh.values()) this.upsert(item);
    this.rv = list.metadata?.resourceVersion ?? '';
    this.synced = true;
    this.o.onList?.();
  }

  private upsert(item: T): void {
    const k = keyOf(item);
    const old = this.cache.get(k);
    this.cache.set(k, item);
    if (!old) this.o.onAdd?.(item);
    else if (
      old.metadata?.resourceVersion !== item.metadata?.resourceVersion ||
      !item.metadata?.resourceVersion
    )
      this.o.onUpdate?.(item, old);
  }

  private apply(e: WatchEvent<T>): void {
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.upsert(e.object);
        break;
      case 'DELETED': {
        const k = keyOf(e.object);
        if (this.cache.delete(k)) this.o.onDelete?.(e.object);
        break;
      }
      case 'BOOKMARK':
        break; // only its resourceVersion matters
      default:
        return;
    }
    const rv = e.object.metadata?.resourceVersion;
    if (rv) this.rv = rv;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
