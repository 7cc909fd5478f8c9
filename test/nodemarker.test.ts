// Node indexes (annotation openpe.io/nodeindex): the pure allocation, then the nodemarker end to end
// against the API server STAND-IN (src/k8s/testing/apiserver-standin.ts) over real HTTP: informer,
// leader election through a Lease, resourceVersion-guarded writes, two replicas, hand-over.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../src/frr/log.js';
import {
  type ClusterConfig,
  KubeClient,
  kubeConfigFromString,
  LEASES,
  type Lease,
  microTime,
  NODES,
  type Node,
  Resource,
} from '../src/k8s/client/index.js';
import { LeaderElector } from '../src/k8s/nodemarker/leader-election.js';
import {
  NODE_INDEX_ANNOTATION,
  type NodeIndexInput,
  planNodeIndexes,
} from '../src/k8s/nodemarker/node-index.js';
import { type Nodemarker, startNodemarker } from '../src/k8s/nodemarker/nodemarker.js';
import { ApiServerStandIn, type KObject } from '../src/k8s/testing/apiserver-standin.js';
import { eventually } from './support/eventually.js';

const NS = 'openperouter-system';
const LEASE = 'openperouter-nodemarker';
type Doc = Record<string, unknown>;

const fast = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 100 };

describe('planNodeIndexes (pure)', () => {
  const n = (name: string, annotation?: string, created = 0): NodeIndexInput => ({
    name,
    created,
    annotation,
  });
  const plan = (nodes: NodeIndexInput[]) =>
    Object.fromEntries(planNodeIndexes(nodes).map((c) => [c.name, `${c.index} ${c.reason}`]));

  it('gives the lowest free index and keeps valid ones (upstream examples)', () => {
    assert.deepEqual(plan([n('a', '0'), n('b', '1'), n('c')]), { c: '2 missing' });
    assert.deepEqual(plan([n('a', '2'), n('b', '0'), n('c')]), { c: '1 missing' });
    assert.deepEqual(plan([n('a', '2'), n('b', '5'), n('c', 'foo'), n('d', '7'), n('e')]), {
      c: '0 invalid',
      e: '1 missing',
    });
    assert.deepEqual(plan([n('a'), n('b'), n('c')]), { a: '0 missing', b: '1 missing', c: '2 missing' });
    assert.deepEqual(plan([n('a', '0'), n('b', '1')]), {});
  });

  it('repairs garbage and duplicates: the oldest node (then name) keeps a duplicated index', () => {
    assert.deepEqual(plan([n('young', '3', 2000), n('old', '3', 1000)]), { young: '0 duplicate' });
    assert.deepEqual(plan([n('b', '3', 1000), n('a', '3', 1000)]), { b: '0 duplicate' });
    assert.deepEqual(plan([n('a', '-1'), n('b', '1.5'), n('c', ' 2'), n('d', '1'), n('e', '')]), {
      a: '0 invalid',
      b: '2 invalid',
      c: '3 invalid',
      e: '4 invalid',
    });
    const changes = planNodeIndexes([n('x', 'foo')]);
    assert.deepEqual(changes, [{ name: 'x', index: 0, reason: 'invalid', previous: 'foo' }]);
  });

  it('never produces a duplicate (every shape of input)', () => {
    for (let round = 0; round < 300; round++) {
      const nodes: NodeIndexInput[] = [];
      const count = 1 + Math.floor(Math.random() * 12);
      for (let i = 0; i < count; i++) {
        const r = Math.random();
        const annotation =
          r < 0.3 ? undefined : r < 0.4 ? 'garbage' : String(Math.floor(Math.random() * (count + 2)));
        nodes.push(n(`n${i}`, annotation, Math.floor(Math.random() * 3)));
      }
      const changes = new Map(planNodeIndexes(nodes).map((c) => [c.name, c.index]));
      const final = nodes.map((x) => changes.get(x.name) ?? Number(x.annotation));
      assert.equal(new Set(final).size, final.length, JSON.stringify(nodes));
      // Valid, unique annotations are never renumbered.
      for (const x of nodes) {
        const same = nodes.filter((y) => y.annotation === x.annotation);
        if (/^\d+$/.test(x.annotation ?? '') && same.length === 1) assert.equal(changes.has(x.name), false);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------

interface Env {
  s: ApiServerStandIn;
  kc: ClusterConfig;
  client: KubeClient;
  core: Resource<Node>;
}

async function environment(): Promise<Env> {
  const s = await ApiServerStandIn.start();
  const kc = kubeConfigFromString(s.kubeconfig);
  const client = new KubeClient(kc);
  return { s, kc, client, core: new Resource<Node>(client, NODES) };
}

const nodeObj = (name: string, annotations?: Record<string, string>): KObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, ...(annotations ? { annotations } : {}) },
});

function indexes(env: Env): Record<string, string | undefined> {
  return Object.fromEntries(
    env.s.list('nodes').map((n) => {
      const m = n['metadata'] as { name: string; annotations?: Record<string, string> };
      return [m.name, m.annotations?.[NODE_INDEX_ANNOTATION]];
    }),
  );
}

const allIndexed = (env: Env) => Object.values(indexes(env)).every((v) => v !== undefined && /^\d+$/.test(v));

function replica(env: Env, identity: string, extra: Partial<Parameters<typeof startNodemarker>[0]> = {}) {
  return startNodemarker({
    kc: env.kc,
    namespace: NS,
    webhookPort: 0,
    metricsBindAddress: '127.0.0.1:0',
    healthProbeBindAddress: '127.0.0.1:0',
    identity,
    ...fast,
    indexRetryDelayMs: 50,
    log: silentLogger,
    ...extra,
  });
}

const nodeWrites = (env: Env) =>
  env.s.requests.filter((r) => ['update', 'patch'].includes(r.verb) && r.resource === 'nodes');

describe('nodemarker: node indexes through the API server stand-in', () => {
  let env: Env;
  let nm: Nodemarker;
  before(async () => {
    env = await environment();
    for (const name of ['n0', 'n1', 'n2']) env.s.seed(nodeObj(name));
    nm = await replica(env, 'only');
  });
  after(async () => {
    await nm?.stop();
    await env?.s.stop();
  });

  it('assigns 0, 1, 2 (lowest free) once it leads, and is then ready', async () => {
    await eventually(() => allIndexed(env), 'indexes assigned');
    assert.deepEqual(indexes(env), { n0: '0', n1: '1', n2: '2' });
    await eventually(() => nm.ready(), 'ready');
    const lease = env.s.get('leases.coordination.k8s.io', LEASE, NS);
    assert.equal((lease!['spec'] as Doc)['holderIdentity'], 'only');
    const health = await fetch(`http://127.0.0.1:${nm.endpoints.healthPort}/readyz`);
    assert.equal(health.status, 200);
  });

  it('reacts to added nodes; a deleted node frees its index for the next one', async () => {
    await env.core.create({ metadata: { name: 'n3' } });
    await eventually(() => indexes(env)['n3'] === '3', 'n3 = 3');
    await env.core.delete('n1');
    await env.core.create({ metadata: { name: 'n4' } });
    await eventually(() => indexes(env)['n4'] !== undefined, 'n4 indexed');
    assert.deepEqual(indexes(env), { n0: '0', n2: '2', n3: '3', n4: '1' });
  });

  it('repairs garbage and duplicates without renumbering valid nodes', async () => {
    const writesBefore = nodeWrites(env).length;
    // n4 is younger than (or as old as, and named after) n0: n0 keeps 0.
    env.s.seed(nodeObj('n4', { [NODE_INDEX_ANNOTATION]: '0' }));
    await eventually(() => indexes(env)['n4'] === '1', 'duplicate repaired');
    env.s.seed(nodeObj('n3', { [NODE_INDEX_ANNOTATION]: 'not-a-number' }));
    await eventually(() => indexes(env)['n3'] === '3', 'garbage repaired');
    env.s.seed(nodeObj('n2', { [NODE_INDEX_ANNOTATION]: '-7' }));
    await eventually(() => indexes(env)['n2'] === '2', 'negative repaired');
    assert.deepEqual(indexes(env), { n0: '0', n2: '2', n3: '3', n4: '1' });
    const written = nodeWrites(env)
      .slice(writesBefore)
      .map((r) => r.name);
    assert.deepEqual(written, ['n4', 'n3', 'n2'], 'only the broken nodes were written');
  });

  it('a 409 on a stale resourceVersion makes it redo the pass from fresh state', async () => {
    env.s.injectConflict({ resource: 'nodes', name: 'n5', count: 2 });
    await env.core.create({ metadata: { name: 'n5' } });
    await eventually(() => indexes(env)['n5'] === '4', 'n5 = 4 despite conflicts');
    const n5 = nodeWrites(env).filter((r) => r.name === 'n5');
    assert.deepEqual(
      n5.map((r) => r.code),
      [409, 409, 200],
    );
    // The write carried the resourceVersion (a precondition), so a real server checks it too.
  });

  it('counts assignments and reports leadership in its metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${nm.endpoints.metricsPort}/metrics`)).text();
    assert.match(text, /openperouter_nodemarker_node_index_assignments_total\{reason="missing"\} 6/);
    assert.match(text, /openperouter_nodemarker_node_index_assignments_total\{reason="duplicate"\} 1/);
    assert.match(text, /openperouter_nodemarker_node_index_assignments_total\{reason="invalid"\} 2/);
    assert.match(text, /openperouter_nodemarker_leader 1/);
    assert.match(text, /openperouter_process_resident_memory_bytes/);
  });
});

describe('nodemarker: two replicas', () => {
  it('many nodes, two replicas, injected conflicts: no duplicates; the follower takes over when the leader stops', async () => {
    const env = await environment();
    const count = 40;
    try {
      for (let i = 0; i < count; i++) env.s.seed(nodeObj(`node-${String(i).padStart(2, '0')}`));
      for (let i = 0; i < count; i += 7)
        env.s.injectConflict({ resource: 'nodes', name: `node-${String(i).padStart(2, '0')}` });
      const [a, b] = await Promise.all([replica(env, 'replica-a'), replica(env, 'replica-b')]);
      let stoppedA = false;
      try {
        await eventually(() => allIndexed(env), 'all indexed', 15_000);
        const values = Object.values(indexes(env)).map(Number);
        assert.deepEqual(
          [...values].sort((x, y) => x - y),
          Array.from({ length: count }, (_, i) => i),
          'indexes 0..n-1, no duplicates',
        );
        assert.equal([a, b].filter((r) => r.isLeader()).length, 1, 'exactly one leader');
        const leader = a.isLeader() ? a : b;
        const follower = leader === a ? b : a;
        const holder = () =>
          (env.s.get('leases.coordination.k8s.io', LEASE, NS)!['spec'] as Doc)['holderIdentity'];
        assert.equal(holder(), leader === a ? 'replica-a' : 'replica-b');
        const followerMetrics = await (
          await fetch(`http://127.0.0.1:${follower.endpoints.metricsPort}/metrics`)
        ).text();
        assert.match(followerMetrics, /openperouter_nodemarker_leader 0/);

        // Hand-over: the leader stops (releasing the Lease); the follower leads and assigns.
        const t0 = Date.now();
        await leader.stop();
        if (leader === a) stoppedA = true;
        await eventually(() => follower.isLeader(), 'follower leads');
        assert.ok(Date.now() - t0 < fast.leaseDurationMs, 'a released Lease is taken without waiting it out');
        await env.core.create({ metadata: { name: 'late' } });
        await eventually(() => indexes(env)['late'] === String(count), 'late node indexed by the new leader');
        await follower.stop();
        if (follower === a) stoppedA = true;
      } finally {
        if (!stoppedA) await a.stop().catch(() => undefined);
        await b.stop().catch(() => undefined);
      }
    } finally {
      await env.s.stop();
    }
  });

  it('a leader that vanishes without releasing is replaced after the lease duration', async () => {
    const env = await environment();
    try {
      // A Lease held by a replica that died (renewed just now, never again).
      await new Resource<Lease>(env.client, LEASES).create({
        metadata: { name: LEASE, namespace: NS },
        spec: {
          holderIdentity: 'dead-replica',
          leaseDurationSeconds: 2,
          renewTime: microTime(),
          acquireTime: microTime(),
          leaseTransitions: 0,
        },
      });
      let leading = false;
      const elector = new LeaderElector({
        client: env.client,
        namespace: NS,
        name: LEASE,
        identity: 'survivor',
        ...fast,
        log: silentLogger,
        onStartedLeading: () => {
          leading = true;
        },
        onStoppedLeading: () => {
          leading = false;
        },
      });
      const t0 = Date.now();
      elector.start();
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(leading, false, 'waits while the dead leader’s lease may still be valid');
      await eventually(() => leading, 'takes over', 5000);
      assert.ok(Date.now() - t0 >= 2000, 'not before the lease duration');
      const spec = env.s.get('leases.coordination.k8s.io', LEASE, NS)!['spec'] as Doc;
      assert.equal(spec['holderIdentity'], 'survivor');
      assert.equal(spec['leaseTransitions'], 1);
      assert.match(String(spec['renewTime']), /\.\d{6}Z$/, 'MicroTime has microseconds');
      await elector.stop();
      assert.equal(leading, false);
      assert.equal(
        (env.s.get('leases.coordination.k8s.io', LEASE, NS)!['spec'] as Doc)['holderIdentity'],
        '',
      );
    } finally {
      await env.s.stop();
    }
  });
});
