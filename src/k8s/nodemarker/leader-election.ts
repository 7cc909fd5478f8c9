// Leader election over a coordination.k8s.io/v1 Lease, with client-go's algorithm
// (k8s.io/client-go/tools/leaderelection): a candidate acquires the Lease when it is free, released or
// not renewed for leaseDuration *as observed locally* (no clock comparison between machines); the
// leader renews every retryPeriod and steps down when it could not renew for renewDeadline; every write
// carries the resourceVersion it read, so two candidates never both win. On stop the leader releases
// the Lease (empty holder) so a successor takes over at once.
import type { Logger } from '../../frr/log.js';
import {
  isApiError,
  type KubeClient,
  LEASES,
  type Lease,
  type LeaseSpec,
  microTime,
  Resource,
} from '../client/index.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** Default 10 s; must be less than leaseDuration. */
  renewDeadlineMs?: number;
  /** Default 2 s. */
  retryPeriodMs?: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** Observes leadership changes (metrics). */
  onChange?: (leading: boolean) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, 'onChange'>> &
    Pick<LeaderElectionOptions, 'onChange'>;
  private readonly leases: Resource<Lease>;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** The Lease spec last seen and when (local clock) it last changed. */
  private observed: { spec: LeaseSpec; at: number; resourceVersion?: string } | undefined;
  private leading = false;
  private lastRenew = 0;

  constructor(opts: LeaderElectionOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
    this.leases = new Resource<Lease>(opts.client, LEASES);
    if (this.o.renewDeadlineMs >= this.o.leaseDurationMs)
      throw new Error('leader election: renewDeadline must be less than leaseDuration');
  }

  /** True while this candidate holds the Lease and renewed it within renewDeadline. */
  isLeader(): boolean {
    return this.leading && Date.now() - this.lastRenew < this.o.renewDeadlineMs;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the Lease. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      await this.release();
    }
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    this.o.log.info(
      { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
      v ? 'became leader' : 'stopped leading',
    );
    this.o.onChange?.(v);
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.o.log.warn(
          { err, lease: `${this.o.namespace}/${this.o.name}` },
          'leader election: lease request failed',
        );
      }
      if (signal.aborted) break;
      if (ok) {
        this.lastRenew = Date.now();
        this.setLeading(true);
      } else if (this.leading && Date.now() - this.lastRenew >= this.o.renewDeadlineMs) {
        this.setLeading(false);
      }
      await sleep(this.o.retryPeriodMs, signal);
    }
  }

  private durationSeconds(): number {
    return Math.max(1, Math.ceil(this.o.leaseDurationMs / 1000));
  }

  private observe(lease: Lease): void {
    const spec = lease.spec ?? {};
    const prev = this.observed;
    const same =
      prev &&
      prev.spec.holderIdentity === spec.holderIdentity &&
      String(prev.spec.renewTime) === String(spec.renewTime) &&
      prev.spec.leaseTransitions === spec.leaseTransitions;
    this.observed = {
      spec,
      at: same ? prev.at : Date.now(),
      ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
    };
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.o;
    const now = microTime();
    let lease: Lease;
    try {
      lease = await this.leases.get(name, namespace);
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
      try {
        const created = await this.leases.create({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.durationSeconds(),
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        });
        this.observe(created);
        return true;
      } catch (e) {
        if (isApiError(e, 409)) return false; // another candidate created it first
        throw e;
      }
    }
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? this.durationSeconds()) * 1000;
    const expired = Date.now() - (this.observed?.at ?? 0) >= durationMs;
    if (holder !== '' && holder !== identity && !expired) return false;
    const mine = holder === identity;
    const body: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.durationSeconds(),
        renewTime: now,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      const updated = await this.leases.replace(body);
      this.observe(updated);
      return true;
    } catch (err) {
      if (isApiError(err, 409)) return false; // someone else wrote the Lease since we read it
      throw err;
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.o;
    try {
      const lease = await this.leases.get(name, namespace);
      if (lease.spec?.holderIdentity !== identity) return;
      const now = microTime();
      await this.leases.replace({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: now,
          acquireTime: now,
        },
      });
      this.o.log.info({ lease: `${namespace}/${name}`, identity }, 'released the lease');
    } catch (err) {
      this.o.log.warn({ err, lease: `${namespace}/${name}` }, 'could not release the lease');
    }
  }
}
