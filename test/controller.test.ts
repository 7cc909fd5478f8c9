// `openperouter controller` end to end: the real controller process against the API server STAND-IN
// (src/k8s/testing, over real HTTP: no kube-apiserver can run here), the real reloader and FRR in a
// throwaway router namespace, the real kernel (a throwaway namespace plays the node's host namespace).
// No VRF on this kernel: L2VNIs without routing domain.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiServerStandIn, type KObject, WRITE_VERBS } from '../src/k8s/testing/apiserver-standin.js';
import { type ControllerNode, kube, startControllerNode } from './support/controller-node.js';
import { waitFor } from './support/eventually.js';
import { stopAllFrr } from './support/frr-instance.js';
import { gate, hasFrr, hasIproute2, isRoot } from './support/prereq.js';
import {
  addNetns,
  type CliProcess,
  globalAddresses,
  type LogRecord,
  linksOf,
  type StatusFile,
  stopAllStaticNodes,
} from './support/static-node.js';

const NS = 'openperouter-system';
const NODE = 'ctl-node-1';
const GROUP_PATH = '/apis/network.openperouter.io/v1alpha1';
const API = 'network.openperouter.io/v1alpha1';
const NODE_VTEP = '100.65.0.1'; // index 1 in 100.65.0.0/24
const NEIGHBOR = '192.168.11.2';

const underlay = (neighbor: Record<string, unknown>) => ({
  apiVersion: API,
  kind: 'Underlay',
  metadata: { name: 'fabric', namespace: NS },
  spec: {
    asn: 64514,
    interfaces: [{ type: 'NetworkDevice', networkDevice: { interfaceName: 'toswitch' } }],
    neighbors: [{ asn: 64512, address: NEIGHBOR, ...neighbor }],
    tunnelEndpoint: { cidrs: ['100.65.0.0/24'] },
  },
});
const l2vni = (name: string, vni: number, spec: Record<string, unknown> = {}) => ({
  apiVersion: API,
  kind: 'L2VNI',
  metadata: { name, namespace: NS },
  spec: { vni, ...spec },
});
const secret = (name: string, password: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: NS },
  type: 'kubernetes.io/basic-auth',
  stringData: { username: 'bgp', password },
});

type Status = StatusFile['status'];

describe(
  'controller end to end (API server stand-in, real FRR, reloader, kernel)',
  gate(isRoot, hasFrr, hasIproute2),
  () => {
    let apiserver: ApiServerStandIn;
    let node: ControllerNode;
    let hostNs = '';
    let ports = { metricsPort: 0, healthPort: 0 };
    const timings: Record<string, number> = {};

    const ctl = (): CliProcess => {
      assert.ok(node.controller, 'controller started');
      return node.controller;
    };
    const status = (): Status | undefined =>
      apiserver.get('routernodeconfigurationstatuses', NODE, NS)?.['status'] as Status | undefined;
    const ready = () => status()?.conditions?.find((c) => c.type === 'Ready');
    const routerLinks = () => linksOf(node.router.routerNamespace);
    const runningConfig = () => node.router.router.runningConfig();
    const http = async (port: number, path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, text: await r.text() };
    };
    const waitReady = (what: string, timeoutMs = 30_000) =>
      waitFor(
        `${what}: status Ready`,
        () => {
          if (ready()?.status !== 'True') throw new Error(JSON.stringify(status()));
          return true;
        },
        timeoutMs,
      );
    const waitLinks = (what: string, want: (names: Set<string>) => boolean, timeoutMs = 30_000) =>
      waitFor(
        what,
        () => {
          const names = new Set(routerLinks().keys());
          if (!want(names)) throw new Error([...names].sort().join(','));
          return true;
        },
        timeoutMs,
      );
    const nextPass = (from: number, what: string): Promise<LogRecord> =>
      ctl().waitForRecord(what, (r) => r.msg === 'reconciled', 30_000, from);
    const create = (o: KObject) => {
      const meta = o['metadata'] as { namespace?: string };
      const plural = o['kind'] === 'Secret' ? 'secrets' : `${String(o['kind']).toLowerCase()}s`;
      const base = o['apiVersion'] === 'v1' ? '/api/v1' : GROUP_PATH;
      return kube(apiserver, 'POST', `${base}/namespaces/${meta.namespace}/${plural}`, o);
    };
    const patchNode = (patch: Record<string, unknown>) =>
      kube(apiserver, 'PATCH', `/api/v1/nodes/${NODE}`, { metadata: patch });

    /** Adds the tail of the processes' log to a failure. */
    const diag = async (fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        if (e instanceof Error) e.message += `\n--- controller output (tail)\n${ctl().output.slice(-6000)}`;
        throw e;
      }
    };

    before(async () => {
      apiserver = await ApiServerStandIn.start();
      apiserver.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
      apiserver.seed({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, rack: 'r1' } },
      });
      hostNs = addNetns('ctlhost');
      // The underlay NIC, with an address and a jumbo MTU, in the node's host namespace.
      const { ip } = await import('./support/static-node.js');
      // (No dummy driver on this kernel: a veth whose peer sits in a namespace of its own.)
      const fabric = addNetns('ctlfab');
      ip(
        ...`-n ${hostNs} link add toswitch mtu 9000 type veth peer name toleaf netns ${fabric} mtu 9000`.split(
          ' ',
        ),
      );
      ip('-n', hostNs, 'addr', 'add', '192.168.11.3/24', 'dev', 'toswitch');
      ip('-n', hostNs, 'link', 'set', 'toswitch', 'up');
      node = await startControllerNode({ apiserver, hostNamespace: hostNs, nodeName: NODE, namespace: NS });
    });

    after(async () => {
      await node?.stop();
      await stopAllStaticNodes();
      await stopAllFrr();
      await apiserver?.stop();
      process.stderr.write(`# controller timings (ms) ${JSON.stringify(timings)}\n`);
    });

    test(
      'waits for the node index annotation, and says so in the log and the status',
      { timeout: 60_000 },
      () =>
        diag(async () => {
          await create(underlay({ passwordSecret: 'bgp-auth' }));
          await create(l2vni('web', 110));
          await create(secret('bgp-auth', 's3cret-1'));
          const started = await node.start();
          ports = started;
          const w = await ctl().waitForRecord('the waiting log line', (r) => r.msg === 'waiting');
          assert.equal(w['reason'], 'WaitingForNodeIndex');
          assert.match(String(w['message']), /no annotation openpe\.io\/nodeindex yet/);
          await waitFor('the waiting status', () =>
            ready()?.reason === 'WaitingForNodeIndex' ? true : undefined,
          );
          assert.equal(ready()?.status, 'False');
          // Nothing touched: the NIC is still in the host namespace.
          assert.ok(linksOf(hostNs).has('toswitch'));
          assert.equal((await http(ports.healthPort, '/healthz')).status, 200);
          assert.equal((await http(ports.healthPort, '/readyz')).status, 503);
          // The status object belongs to the Node (garbage-collected with it).
          const obj = apiserver.get('routernodeconfigurationstatuses', NODE, NS);
          const owner = (
            obj?.['metadata'] as
              | { ownerReferences?: { kind: string; name: string; uid: string }[] }
              | undefined
          )?.ownerReferences?.[0];
          assert.deepEqual([owner?.kind, owner?.name], ['Node', NODE]);
          assert.equal(
            owner?.uid,
            (apiserver.get('nodes', NODE)?.['metadata'] as { uid?: string } | undefined)?.uid,
          );
        }),
    );

    test(
      'objects in the API become kernel and FRR state: NIC moved, VTEP on lo, neighbor with the Secret password; Ready',
      { timeout: 90_000 },
      () =>
        diag(async () => {
          const t = Date.now();
          await patchNode({ annotations: { 'openpe.io/nodeindex': '1' } });
          await waitLinks(
            'toswitch, vni110 in the router namespace',
            (n) => n.has('toswitch') && n.has('vni110'),
          );
          timings['indexToKernel'] = Date.now() - t;
          await waitReady('first convergence');
          timings['indexToReady'] = Date.now() - t;
          const links = routerLinks();
          assert.deepEqual(globalAddresses(links.get('toswitch')), ['192.168.11.3/24']);
          assert.equal(linksOf(hostNs).has('toswitch'), false);
          assert.deepEqual(globalAddresses(links.get('lo')), [`${NODE_VTEP}/32`]);
          assert.equal(links.get('vni110')?.mtu, 9000 - 50);
          const config = await runningConfig();
          assert.match(config, new RegExp(`neighbor ${NEIGHBOR} remote-as 64512`));
          assert.match(config, new RegExp(`neighbor ${NEIGHBOR} password s3cret-1`));
          assert.deepEqual(
            status()?.conditions?.map((c) => [c.type, c.status, c.reason]),
            [
              ['Ready', 'True', 'ConfigurationSuccessful'],
              ['Degraded', 'False', 'ConfigurationSuccessful'],
            ],
          );
          assert.deepEqual(status()?.failedResources, []);
          await waitFor('/readyz 200', async () =>
            (await http(ports.healthPort, '/readyz')).status === 200 ? true : undefined,
          );
          const metrics = (await http(ports.metricsPort, '/metrics')).text;
          assert.match(metrics, /openperouter_controller_reconciles_total\{outcome="ready"\} [1-9]/);
          assert.match(metrics, /openperouter_controller_reconciles_total\{outcome="waiting"\} [1-9]/);
          assert.match(metrics, /openperouter_controller_frr_reloads_total\{result="applied"\} [1-9]/);
          assert.match(metrics, /openperouter_controller_kernel_operations_total [1-9]/);
          assert.match(metrics, /openperouter_controller_last_success_timestamp_seconds \d/);
          assert.match(metrics, /openperouter_controller_reconcile_duration_seconds_bucket/);
          assert.match(metrics, /openperouter_process_resident_memory_bytes/);
          // The Ready transition is an Event on the Node.
          const nodeEvents = apiserver
            .list('events', 'default')
            .filter((e) => (e['involvedObject'] as { kind: string }).kind === 'Node');
          assert.deepEqual(
            nodeEvents.map((e) => [e['type'], e['reason']]),
            [
              ['Warning', 'WaitingForNodeIndex'],
              ['Normal', 'ConfigurationSuccessful'],
            ],
          );
        }),
    );

    test(
      'passwordSecret: a changed Secret re-reconciles; a missing one fails the Underlay with a reason',
      { timeout: 90_000 },
      () =>
        diag(async () => {
          await kube(apiserver, 'PATCH', `/api/v1/namespaces/${NS}/secrets/bgp-auth`, {
            stringData: { password: 's3cret-2' },
          });
          await waitFor('the new password in FRR', async () =>
            (await runningConfig()).includes(`neighbor ${NEIGHBOR} password s3cret-2`) ? true : undefined,
          );
          // A Secret whose password FRR could not take (whitespace) is refused with the reason.
          await kube(apiserver, 'PATCH', `/api/v1/namespaces/${NS}/secrets/bgp-auth`, {
            stringData: { password: 'two words' },
          });
          await waitFor('the unusable Secret reported', () => {
            const f = status()?.failedResources?.find((x) => x.message.includes('whitespace'));
            return f ? f : undefined;
          });
          assert.equal(ready()?.reason, 'UnderlayFailed');
          assert.match(await runningConfig(), /password s3cret-2/, 'FRR left as it was');
          // Points at a Secret that does not exist.
          await kube(apiserver, 'PATCH', `/api/v1/namespaces/${NS}/secrets/bgp-auth`, {
            stringData: { password: 's3cret-2' },
          });
          await waitReady('password fixed');
          const u = underlay({ passwordSecret: 'nope' });
          await kube(apiserver, 'PUT', `${GROUP_PATH}/namespaces/${NS}/underlays/fabric`, {
            ...u,
            metadata: { ...u.metadata, resourceVersion: undefined },
          });
          await waitFor('the missing Secret reported', () =>
            ready()?.reason === 'UnderlayFailed' ? true : undefined,
          );
          const f = status()?.failedResources ?? [];
          assert.deepEqual(
            f.map((x) => [x.kind, x.name, x.reason]),
            [['Underlay', 'fabric', 'ValidationFailed']],
          );
          assert.match(f[0]?.message ?? '', /passwordSecret: Secret "nope" not found/);
          assert.ok(routerLinks().has('vni110'), 'nothing torn down');
          const ev = apiserver
            .list('events', NS)
            .find(
              (e) =>
                (e['involvedObject'] as { kind: string }).kind === 'Underlay' &&
                String(e['message']).includes('"nope"'),
            );
          assert.ok(ev, 'an Event on the Underlay');
          assert.equal(ev['type'], 'Warning');
          await create(secret('nope', 'found-it'));
          await waitFor('the new Secret used', async () =>
            (await runningConfig()).includes(`neighbor ${NEIGHBOR} password found-it`) ? true : undefined,
          );
          await waitReady('Secret created');
        }),
    );

    test('edits and deletes converge; node labels change what is selected', { timeout: 120_000 }, () =>
      diag(async () => {
        let t = Date.now();
        await create(l2vni('extra', 120));
        await waitLinks('vni120 added', (n) => n.has('vni120'));
        timings['addVniToKernel'] = Date.now() - t;
        t = Date.now();
        await kube(apiserver, 'PATCH', `${GROUP_PATH}/namespaces/${NS}/l2vnis/extra`, { spec: { vni: 121 } });
        await waitLinks('vni120 -> vni121', (n) => n.has('vni121') && !n.has('vni120'));
        timings['changeVniToKernel'] = Date.now() - t;
        t = Date.now();
        await kube(apiserver, 'DELETE', `${GROUP_PATH}/namespaces/${NS}/l2vnis/extra`);
        await waitLinks('vni121 deleted', (n) => !n.has('vni121') && !n.has('br-pe-121'));
        timings['deleteVniToKernel'] = Date.now() - t;

        await create(l2vni('rack2', 130, { nodeSelector: { matchLabels: { rack: 'r2' } } }));
        const from = ctl().records.length;
        await nextPass(from, 'the pass after rack2 appeared');
        assert.equal(routerLinks().has('vni130'), false, 'not selected (rack r1)');
        await patchNode({ labels: { rack: 'r2' } });
        await waitLinks('vni130 after relabel', (n) => n.has('vni130'));
        await patchNode({ labels: { rack: 'r1' } });
        await waitLinks('vni130 gone after relabel', (n) => !n.has('vni130'));
        await waitReady('after relabels');
      }),
    );

    test(
      'an invalid object is skipped and reported (status, Event), the rest applied; an invalid edit keeps the last good version',
      { timeout: 90_000 },
      () =>
        diag(async () => {
          // seed() stores without validation: an object the schema refuses, as an older CRD could have stored.
          apiserver.seed(l2vni('bad', 0));
          await create(l2vni('more', 150));
          await waitLinks('vni150 applied beside the invalid object', (n) => n.has('vni150'));
          await waitFor('the invalid object in the status', () =>
            status()?.failedResources?.some((f) => f.name === 'bad') ? true : undefined,
          );
          const f = status()?.failedResources?.find((x) => x.name === 'bad');
          assert.deepEqual([f?.kind, f?.reason], ['L2VNI', 'ValidationFailed']);
          assert.match(f?.message ?? '', /^spec\.vni: .*greater than or equal to 1/);
          assert.deepEqual(
            status()?.conditions?.map((c) => [c.type, c.status, c.reason]),
            [
              ['Ready', 'False', 'ConfigurationFailed'],
              ['Degraded', 'True', 'ConfigurationFailed'],
            ],
          );
          const bad = apiserver.get('l2vnis', 'bad', NS);
          const ev = await waitFor('the Event on the invalid object', () =>
            apiserver
              .list('events', NS)
              .find((e) => (e['involvedObject'] as { name: string }).name === 'bad'),
          );
          assert.deepEqual(
            [ev['type'], ev['reason'], (ev['involvedObject'] as { uid: string; kind: string }).kind],
            ['Warning', 'ValidationFailed', 'L2VNI'],
          );
          assert.equal(
            (ev['involvedObject'] as { uid: string }).uid,
            (bad?.['metadata'] as { uid?: string } | undefined)?.uid,
          );
          assert.match(String(ev['message']), new RegExp(`^node ${NODE}: spec\\.vni`));
          // Not repeated on later passes.
          const count = () =>
            apiserver
              .list('events', NS)
              .filter((e) => (e['involvedObject'] as { name: string }).name === 'bad').length;
          const from = ctl().records.length;
          await create(l2vni('trigger', 160));
          await nextPass(from, 'another pass');
          await waitLinks('vni160', (n) => n.has('vni160'));
          assert.equal(count(), 1);

          // A valid object edited into an invalid one keeps its last good version.
          const more = apiserver.get('l2vnis', 'more', NS)!;
          apiserver.seed({ ...more, spec: { vni: 0 } });
          await waitFor('more reported with its last good version kept', () =>
            status()?.failedResources?.find(
              (x) => x.name === 'more' && /keeping its last good version/.test(x.message),
            ),
          );
          assert.ok(routerLinks().has('vni150'), 'vni150 kept');
          await kube(apiserver, 'DELETE', `${GROUP_PATH}/namespaces/${NS}/l2vnis/bad`);
          await kube(apiserver, 'DELETE', `${GROUP_PATH}/namespaces/${NS}/l2vnis/trigger`);
          await kube(apiserver, 'PUT', `${GROUP_PATH}/namespaces/${NS}/l2vnis/more`, l2vni('more', 150));
          await waitReady('all fixed');
          await waitLinks('vni160 gone', (n) => !n.has('vni160') && n.has('vni150'));
          const recovered = apiserver
            .list('events', NS)
            .filter(
              (e) => (e['involvedObject'] as { name: string }).name === 'more' && e['reason'] === 'Applied',
            );
          assert.equal(recovered.length, 1);
        }),
    );

    test('a watch answered 410 Expired relists and keeps working', { timeout: 60_000 }, () =>
      diag(async () => {
        const before = apiserver.requests.length;
        apiserver.injectWatchExpiry({ resource: 'l2vnis' });
        await create(l2vni('after-410', 170));
        await waitLinks('vni170 after the 410', (n) => n.has('vni170'));
        const after = apiserver.requests.slice(before);
        assert.ok(
          after.some(
            (r) => r.verb === 'watch' && r.resource === 'l2vnis.network.openperouter.io' && r.code === 200,
          ),
          'watched again',
        );
        assert.ok(
          after.some((r) => r.verb === 'list' && r.resource === 'l2vnis.network.openperouter.io'),
          'relisted',
        );
        await kube(apiserver, 'DELETE', `${GROUP_PATH}/namespaces/${NS}/l2vnis/after-410`);
        // The whole VNI, bridge included: the next test snapshots the links and expects them to stay.
        await waitLinks('vni170 and br-pe-170 gone', (n) => !n.has('vni170') && !n.has('br-pe-170'));
        await waitReady('after the 410');
      }),
    );

    test(
      'restart with nothing changed: no kernel write, no FRR reload, no status write, no Event',
      { timeout: 60_000 },
      () =>
        diag(async () => {
          const linksBefore = [...routerLinks().keys()].sort();
          const ltt = ready()?.lastTransitionTime;
          const { code } = await ctl().stop('SIGTERM');
          assert.equal(code, 0, 'graceful stop');
          assert.deepEqual([...routerLinks().keys()].sort(), linksBefore, 'kernel state left in place');
          const before = apiserver.requests.length;
          const reloaderFrom = node.router.reloader.records.length;
          const t = Date.now();
          await node.start();
          const r = await nextPass(0, 'the first pass after the restart');
          timings['restartToFirstPass'] = Date.now() - t;
          timings['restartFirstPassReconcile'] = Number(r['durationMs']);
          const startingAt = Date.parse(String(ctl().find('starting')[0]?.time));
          timings['restartLoggedStartToPass'] = Date.parse(String(r.time)) - startingAt;
          assert.deepEqual([r['ready'], r['kernelOperations'], r['frrApplied']], ['True', 0, false]);
          assert.equal(
            node.router.reloader.find('config unchanged, FRR not touched', reloaderFrom).length,
            1,
          );
          await new Promise((res) => setTimeout(res, 500));
          const writes = apiserver.requests.slice(before).filter((x) => WRITE_VERBS.includes(x.verb));
          assert.deepEqual(writes, [], 'no write to the API');
          assert.equal(ready()?.lastTransitionTime, ltt);
        }),
    );
  },
);
