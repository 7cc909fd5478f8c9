// Node indexes: every Node gets the lowest free non-negative integer in the annotation
// openpe.io/nodeindex, kept for the Node's lifetime. planNodeIndexes is the pure allocation; NodeIndexer
// runs it (only while this replica leads) on every Node add/delete/annotation change, from a fresh
// list, writing each Node with a merge patch that carries the resourceVersion it was planned from:
// a Node changed meanwhile answers 409 and the pass is redone from fresh state.
import type { Logger } from '../../frr/log.js';
import {
  collectionPath,
  Informer,
  isApiError,
  type KubeClient,
  NODES,
  type Node,
  Resource,
} from '../client/index.js';

export const NODE_INDEX_ANNOTATION = 'openpe.io/nodeindex';

/** The value a consumer (the controller) accepts: decimal digits, at most 9. */
export function parseNodeIndex(raw: string | undefined): number | undefined {
  return raw !== undefined && /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}

export interface NodeIndexInput {
  name: string;
  /** Milliseconds since the epoch (creationTimestamp); the oldest node keeps a duplicated index. */
  created: number;
  annotation: string | undefined;
}

export type IndexReason = 'missing' | 'invalid' | 'duplicate';

export interface IndexChange {
  name: string;
  index: number;
  reason: IndexReason;
  previous?: string;
}

const byAge = (a: NodeIndexInput, b: NodeIndexInput) =>
  a.created - b.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The changes that give every node a unique index: valid indexes are kept (on a duplicate, by the
 * oldest node, then by name); missing, invalid and losing duplicate indexes get the lowest free ones,
 * oldest node first.
 */
export function planNodeIndexes(nodes: NodeIndexInput[]): IndexChange[] {
  const ordered = [...nodes].sort(byAge);
  const taken = new Set<number>();
  const needs: { node: NodeIndexInput; reason: IndexReason }[] = [];
  for (const node of ordered) {
    const index = parseNodeIndex(node.annotation);
    if (node.annotation === undefined) needs.push({ node, reason: 'missing' });
    else if (index === undefined) needs.push({ node, reason: 'invalid' });
    else if (taken.has(index)) needs.push({ node, reason: 'duplicate' });
    else taken.add(index);
  }
  const out: IndexChange[] = [];
  let next = 0;
  for (const { node, reason } of needs) {
    while (taken.has(next)) next++;
    taken.add(next);
    out.push({
      name: node.name,
      index: next,
      reason,
      ...(node.annotation !== undefined ? { previous: node.annotation } : {}),
    });
  }
  return out;
}

function inputOf(n: Node): NodeIndexInput {
  const ts = n.metadata?.creationTimestamp;
  return {
    name: n.metadata?.name ?? '',
    created: ts ? new Date(ts).getTime() : 0,
    annotation: n.metadata?.annotations?.[NODE_INDEX_ANNOTATION],
  };
}

export interface NodeIndexerOptions {
  client: KubeClient;
  log: Logger;
  /** Whether this replica may write now (leader election); default always. */
  mayWrite?: () => boolean;
  /** Counts written indexes (metrics). */
  onAssigned?: (change: IndexChange) => void;
  /** Delay before redoing a pass after an error or conflict (default 1 s, doubling up to 30 s). */
  retryDelayMs?: number;
  /** Full pass interval regardless of events (default 5 min). */
  resyncIntervalMs?: number;
}

export class NodeIndexer {
  private readonly o: NodeIndexerOptions;
  private readonly informer: Informer<Node>;
  private readonly nodes: Resource<Node>;
  private running = false;
  private pending = false;
  private stopped = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly seen = new Map<string, string | undefined>();
  /** True once the informer has listed the Nodes (it is then kept up to date, relisting when needed). */
  get synced(): boolean {
    return this.informer.synced;
  }

  constructor(opts: NodeIndexerOptions) {
    this.o = opts;
    this.nodes = new Resource<Node>(opts.client, NODES);
    // Only what can change an allocation triggers a pass: adds, deletes and index annotation changes
    // (not the status heartbeats every kubelet sends).
    this.informer = new Informer<Node>({
      client: opts.client,
      path: collectionPath(NODES),
      onAdd: (n) => {
        this.seen.set(n.metadata?.name ?? '', n.metadata?.annotations?.[NODE_INDEX_ANNOTATION]);
        this.trigger();
      },
      onDelete: (n) => {
        this.seen.delete(n.metadata?.name ?? '');
        this.trigger();
      },
      onUpdate: (n) => {
        const name = n.metadata?.name ?? '';
        const value = n.metadata?.annotations?.[NODE_INDEX_ANNOTATION];
        if (this.seen.has(name) && this.seen.get(name) === value) return;
        this.seen.set(name, value);
        this.trigger();
      },
      // The informer retries by itself, with backoff.
      onError: (err, retryInMs) => {
        if (!this.stopped) this.o.log.warn({ err, retryInMs }, 'node watch failed; retrying');
      },
    });
  }

  async start(): Promise<void> {
    await this.informer.start();
    this.trigger();
    const resync = this.o.resyncIntervalMs ?? 300_000;
    this.resyncTimer = setInterval(() => this.trigger(), resync);
    this.resyncTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    this.informer.stop();
    await this.idle();
  }

  /** Resolves when no pass is running or queued. */
  idle(): Promise<void> {
    if (!this.running && !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Asks for a pass (coalesced: at most one runs, at most one waits). */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    do {
      this.pending = false;
      let again = false;
      try {
        again = await this.pass();
        this.failures = again ? this.failures + 1 : 0;
        // A conflict means someone else just wrote: redo at once from fresh state, a few times.
        if (again && this.failures <= 5) {
          this.pending = true;
          again = false;
        }
      } catch (err) {
        this.failures++;
        again = true;
        this.o.log.warn({ err }, 'node index pass failed');
      }
      if (again && !this.stopped) {
        const base = this.o.retryDelayMs ?? 1000;
        const delay = Math.min(30_000, base * 2 ** Math.min(this.failures - 1, 10));
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.trigger(), delay);
      }
    } while (this.pending && !this.stopped);
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** One pass over fresh state; true when it must be redone (a conflict). */
  private async pass(): Promise<boolean> {
    const mayWrite = this.o.mayWrite ?? (() => true);
    if (!mayWrite()) return false;
    const list = await this.nodes.list();
    const byName = new Map(list.items.map((n) => [n.metadata?.name ?? '', n]));
    const changes = planNodeIndexes(list.items.map(inputOf));
    let conflict = false;
    for (const change of changes) {
      if (this.stopped || !mayWrite()) return false;
      const node = byName.get(change.name);
      const rv = node?.metadata?.resourceVersion;
      try {
        await this.nodes.mergePatch(change.name, {
          metadata: {
            ...(rv ? { resourceVersion: rv } : {}),
            annotations: { [NODE_INDEX_ANNOTATION]: String(change.index) },
          },
        });
        this.o.log.info(
          { node: change.name, index: change.index, reason: change.reason, previous: change.previous },
          'assigned node index',
        );
        this.o.onAssigned?.(change);
      } catch (err) {
        if (isApiError(err, 409) || isApiError(err, 404)) {
          // Changed or gone since the list: plan again from fresh state; the indexes written so far
          // are valid and will be kept.
          this.o.log.debug({ node: change.name, code: err.code }, 'node changed meanwhile; redoing the pass');
          conflict = true;
          break;
        }
        throw err;
      }
    }
    return conflict;
  }
}
