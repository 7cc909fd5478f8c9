// The controller's Kubernetes input (src/sources/kubernetes.ts) and its waiting states, in process,
// against the API server STAND-IN over real HTTP (no kube-apiserver can run here). No FRR needed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../src/frr/log.js';
import { KubeClient, kubeConfigFromString } from '../src/k8s/client/index.js';
import { startController } from '../src/k8s/controller/controller.js';
import { ApiServerStandIn } from '../src/k8s/testing/apiserver-standin.js';
import { KubernetesSource } from '../src/sources/kubernetes.js';
import { waitFor } from './support/eventually.js';
import { gate, hasIproute2, isRoot } from './support/prereq.js';

const NS = 'openperouter-system';
const API = 'network.openperouter.io/v1alpha1';
const NODE = 'src-node';

const kubeConfig = (s: ApiServerStandIn) => kubeConfigFromString(s.kubeconfig);
const kubeClient = (s: ApiServerStandIn) => new KubeClient(kubeConfig(s));
const underlay = (name: string, ns: string, neighbor: Record<string, unknown> = {}) => ({
  apiVersion: API,
  kind: 'Underlay',
  metadata: { name, namespace: ns },
  spec: {
    asn: 64514,
    interfaces: [{ type: 'NetworkDevice', networkDevice: { interfaceName: 'eth1' } }],
    neighbors: [{ asn: 64512, address: '192.168.11.2', ...neighbor }],
  },
});
const l2vni = (name: string, ns: string, vni: number) => ({
  apiVersion: API,
  kind: 'L2VNI',
  metadata: { name, namespace: ns },
  spec: { vni },
});
const nodeObj = (labels: Record<string, string>, annotations: Record<string, string> = {}, extra = {}) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: NODE, labels, annotations },
  ...extra,
});

describe('KubernetesSource against the API server stand-in', () => {
  let apiserver: ApiServerStandIn;
  let source: KubernetesSource;
  const changes: string[] = [];

  before(async () => {
    apiserver = await ApiServerStandIn.start();
    apiserver.seed(nodeObj({ rack: 'r1' }));
    apiserver.seed(underlay('fabric', NS, { passwordSecret: 'bgp' }));
    apiserver.seed(l2vni('web', 'tenant-a', 110)); // another namespace: counts, as upstream
    apiserver.seed({
      apiVersion: API,
      kind: 'RawFRRConfig',
      metadata: { name: 'elsewhere', namespace: 'tenant-a' },
      spec: { rawConfig: 'ip forwarding' },
    });
    apiserver.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bgp', namespace: NS },
      data: { password: Buffer.from('pw-1').toString('base64') },
    });
    apiserver.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'unrelated', namespace: NS },
      data: {},
    });
    source = new KubernetesSource(kubeClient(apiserver), {
      nodeName: NODE,
      namespace: NS,
      log: silentLogger,
      onChange: (what) => changes.push(what),
      restartBackoffMs: 50,
    });
    await source.start();
  });
  after(async () => {
    source.stop();
    await apiserver.stop();
  });

  test('first list: every routing kind cluster-wide, RawFRRConfig only in the operator namespace', async () => {
    assert.deepEqual(source.unsynced(), []);
    const r = await source.read({ rack: 'r1' });
    assert.deepEqual(
      r.snapshot.underlays.map((u) => u.metadata.name),
      ['fabric'],
    );
    assert.deepEqual(
      r.snapshot.l2vnis.map((u) => `${u.metadata.namespace}/${u.metadata.name}`),
      ['tenant-a/web'],
    );
    assert.deepEqual(r.snapshot.rawFRRConfigs, [], 'RawFRRConfig of another namespace is not read');
    assert.deepEqual(r.issues, []);
    // Defaults applied by validateObject (same path as static files).
    assert.equal(r.snapshot.l2vnis[0]?.spec.vxlanPort, 4789);
  });

  test('node index: missing, unusable, usable; heartbeats do not trigger, labels and the index do', async () => {
    assert.match(source.nodeInfo().problem ?? '', /has no annotation openpe\.io\/nodeindex yet/);
    apiserver.seed(nodeObj({ rack: 'r1' }, { 'openpe.io/nodeindex': 'x1' }));
    await waitFor('bad index seen', () =>
      /not a non-negative integer/.test(source.nodeInfo().problem ?? '') ? true : undefined,
    );
    apiserver.seed(nodeObj({ rack: 'r1' }, { 'openpe.io/nodeindex': '7' }));
    await waitFor('index 7', () => (source.nodeInfo().index === 7 ? true : undefined));
    changes.length = 0;
    apiserver.seed(
      nodeObj(
        { rack: 'r1' },
        { 'openpe.io/nodeindex': '7' },
        { status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(changes.length, 0, 'a status-only Node update is ignored');
    apiserver.seed(nodeObj({ rack: 'r2' }, { 'openpe.io/nodeindex': '7' }));
    await waitFor('label change noticed', () => (changes.includes('nodes') ? true : undefined));
    assert.deepEqual(source.nodeInfo().labels, { rack: 'r2' });
  });

  test('passwordSecret: read one by one (fieldSelector), key checked, changes trigger', async () => {
    let r = await source.read({});
    assert.equal(r.secretPassword(NS, 'bgp'), 'pw-1');
    const secretReqs = apiserver.requests.filter((x) => x.resource === 'secrets');
    assert.ok(secretReqs.length > 0);
    for (const q of secretReqs) {
      assert.equal(q.namespace, NS);
      assert.match(decodeURIComponent(q.query), /fieldSelector=metadata\.name=bgp/);
    }
    changes.length = 0;
    apiserver.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bgp', namespace: NS },
      data: { username: Buffer.from('x').toString('base64') },
    });
    await waitFor('secret change', () => (changes.includes('secrets') ? true : undefined));
    r = await source.read({});
    assert.equal(r.secretPassword(NS, 'bgp'), undefined);
    assert.deepEqual(
      r.issues.map((i) => [i.kind, i.name, i.field, i.message]),
      [['Underlay', 'fabric', 'spec.neighbors[0].passwordSecret', `Secret ${NS}/bgp has no key "password"`]],
    );
  });

  test('an invalid object: reported, its last good version kept; saved and restored by a new process', async () => {
    const web = apiserver.get('l2vnis', 'web', 'tenant-a')!;
    apiserver.seed({ ...web, spec: { vni: 0 } });
    await waitFor('invalid version seen', async () =>
      (await source.read({})).issues.some((i) => i.kind === 'L2VNI') ? true : undefined,
    );
    const r = await source.read({});
    const issue = r.issues.find((i) => i.kind === 'L2VNI');
    assert.equal(issue?.field, 'spec.vni');
    assert.match(issue?.message ?? '', /keeping its last good version$/);
    assert.equal(r.snapshot.l2vnis[0]?.spec.vni, 110, 'last good version used');
    // A new source (a restarted controller) restored from the saved state keeps it too.
    const state = JSON.parse(JSON.stringify(source.saveState())) as unknown;
    const fresh = new KubernetesSource(kubeClient(apiserver), {
      nodeName: NODE,
      namespace: NS,
      log: silentLogger,
      onChange: () => undefined,
    });
    assert.deepEqual(fresh.restoreState(state), []);
    await fresh.start();
    const rf = await fresh.read({});
    fresh.stop();
    assert.equal(rf.snapshot.l2vnis[0]?.spec.vni, 110);
    // Deleted: gone, last good version forgotten.
    apiserver.seed({ ...web, metadata: { ...(web['metadata'] as object), name: 'web2' } });
    await fetch(`${apiserver.url}/apis/network.openperouter.io/v1alpha1/namespaces/tenant-a/l2vnis/web`, {
      method: 'DELETE',
    });
    await waitFor('delete seen', async () =>
      (await source.read({})).snapshot.l2vnis.map((l) => l.metadata.name).join() === 'web2'
        ? true
        : undefined,
    );
  });
});

describe('KubernetesSource: the API server goes away and comes back', () => {
  test('watches fail, are restarted with backoff, and converge on the new server', {
    timeout: 30_000,
  }, async () => {
    let apiserver = await ApiServerStandIn.start();
    const port = Number(new URL(apiserver.url).port);
    apiserver.seed(l2vni('one', NS, 101));
    const errors: string[] = [];
    const kc = kubeClient(apiserver);
    const source = new KubernetesSource(kc, {
      nodeName: NODE,
      namespace: NS,
      log: silentLogger,
      onChange: () => undefined,
      onWatchError: (r) => errors.push(r),
      restartBackoffMs: 50,
      restartBackoffMaxMs: 200,
    });
    try {
      await source.start();
      assert.deepEqual(
        (await source.read({})).snapshot.l2vnis.map((l) => l.spec.vni),
        [101],
      );
      await apiserver.stop();
      await waitFor('watch errors', () => (errors.includes('l2vnis') ? true : undefined), 10_000);
      const oldRv = apiserver.resourceVersion;
      apiserver = await ApiServerStandIn.start({ port });
      // A real API server keeps its resourceVersions (etcd); this one starts afresh: move it past the
      // old one and forget the history, so that the resumed watches get 410 and relist.
      for (let i = 0; apiserver.resourceVersion <= oldRv; i++)
        apiserver.seed({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `filler-${i}`, namespace: NS },
        });
      apiserver.compactHistory();
      apiserver.seed(l2vni('two', NS, 102));
      await waitFor(
        'the new server state',
        async () =>
          (await source.read({})).snapshot.l2vnis.map((l) => l.spec.vni).join() === '102' ? true : undefined,
        15_000,
      );
    } finally {
      source.stop();
      await apiserver.stop();
    }
  });
});

describe('controller waiting states (in process)', gate(isRoot, hasIproute2), () => {
  test('creates the router namespace, waits for the router, says so; /healthz ok, /readyz not', {
    timeout: 30_000,
  }, async () => {
    const apiserver = await ApiServerStandIn.start();
    const routerNs = `oprs-ctlw-${randomBytes(3).toString('hex')}`;
    apiserver.seed(nodeObj({}, { 'openpe.io/nodeindex': '0' }));
    const controller = await startController({
      kubeConfig: kubeConfig(apiserver),
      nodeName: NODE,
      namespace: NS,
      reloaderSocket: `/tmp/${routerNs}-nobody.sock`,
      routerNamespace: routerNs,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      debounceMs: 10,
      resyncSeconds: 0,
      routerRetryMs: 100,
      log: silentLogger,
    });
    try {
      await waitFor('RouterNotReady', () => {
        const st = apiserver.get('routernodeconfigurationstatuses', NODE, NS)?.['status'] as
          | { conditions?: { reason: string; message: string }[] }
          | undefined;
        return st?.conditions?.[0]?.reason === 'RouterNotReady' ? st : undefined;
      });
      assert.ok(
        execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(routerNs),
        'namespace created',
      );
      const health = controller.endpoints.healthPort;
      assert.equal((await fetch(`http://127.0.0.1:${health}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${health}/readyz`)).status, 503);
      const writes = () => apiserver.requests.filter((r) => r.verb === 'patch').length;
      const w = writes();
      // Retries (backoff) do not rewrite an unchanged status.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(writes(), w);
      const metrics = await (
        await fetch(`http://127.0.0.1:${controller.endpoints.metricsPort}/metrics`)
      ).text();
      assert.match(metrics, /openperouter_controller_reconciles_total\{outcome="waiting"\} [1-9]/);
    } finally {
      await controller.stop();
      await apiserver.stop();
      execFileSync('ip', ['netns', 'del', routerNs]);
    }
  });
});
