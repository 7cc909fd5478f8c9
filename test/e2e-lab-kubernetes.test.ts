// End to end in Kubernetes mode, in the one-machine EVPN lab: the same fabric as e2e-lab.test.ts, but the
// objects live in an API server (the in-repo STAND-IN, src/k8s/testing: no kube-apiserver can run on
// these machines) inside the guest, the nodemarker gives the nodes their index and serves the validating
// webhooks, and each node runs `openperouter controller` (with our reloader and real FRR). The lab's
// editManifests() now changes the cluster: lab/guest/kube-cluster.ts applies the directory over HTTP
// like `kubectl apply --prune`, through the webhooks. One object set serves both nodes, so every change
// must converge on both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type NodeState, readNodeState } from '../lab/expect.js';
import { type Lab, type LabStatus, labUnavailableReason, labUp } from '../lab/lab.js';
import { DEFAULT_TOPOLOGY } from '../lab/topology.js';
import { assertChecks, GREEN_L2, GREEN_L3, labWaits, linkKey, progressToStderr } from './support/lab-e2e.js';
import { gate, hasFrr, isRoot, type Prerequisite } from './support/prereq.js';

const labAvailable: Prerequisite = () => labUnavailableReason();
const NODES = DEFAULT_TOPOLOGY.nodes.map((n) => n.name);
const NODE = 'node-b';

describe(
  'one-machine EVPN lab in Kubernetes mode (API server stand-in, nodemarker + webhooks, controllers)',
  gate(isRoot, hasFrr, labAvailable),
  () => {
    let lab: Lab | undefined;
    let up: LabStatus | undefined;
    const baseline = new Map<string, NodeState>();
    const L = (): Lab => {
      assert.ok(lab, 'the lab did not come up');
      return lab;
    };
    const { converge, reconciled, waitAll } = labWaits(L);

    before(
      async () => {
        // Slower to converge than static mode (about 2.5 min in CI): four more Node.js processes start
        // on the guest's one CPU, and the controllers wait for the nodemarker's index.
        lab = await labUp({ mode: 'kubernetes', convergeTimeoutMs: 360_000, onProgress: progressToStderr });
        up = lab.lastStatus;
      },
      { timeout: 480_000 },
    );

    after(
      async () => {
        await lab?.down();
      },
      { timeout: 60_000 },
    );

    test('the nodemarker indexes the nodes, the controllers converge them to the objects in the API', async (t) => {
      const l = L();
      t.diagnostic(
        `lab up in ${(l.timings.totalMs / 1000).toFixed(1)} s (controllers' start to converged ${(l.timings.convergeMs / 1000).toFixed(1)} s)`,
      );
      assert.ok(up, 'no status');
      assert.ok(l.converged, `not converged:\n${await l.logs(20)}`);
      // Lowest free index in creation order; the lab's addresses are planned for exactly these.
      assert.deepEqual(
        l.nodeIndexes(),
        Object.fromEntries(DEFAULT_TOPOLOGY.nodes.map((n) => [n.name, String(n.index)])),
      );
      for (const n of NODES) baseline.set(n, await converge(n, 10_000));
      for (const n of NODES) {
        const status = l.agentStatus(n)?.status;
        assert.equal(status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True', n);
      }
    });

    test('sessions, type-5 routes, and pings over the L3 VNIs, the L2 VNI and the passthrough', () => {
      assert.ok(up);
      assertChecks(
        up,
        [
          'bgp-leaf',
          'bfd-leaf',
          'bgp-host',
          'type5-node',
          'type5-leaf',
          'host-routes',
          'ping-l3',
          'ping-l2',
          'ping-passthrough',
        ],
        'the fabric',
      );
    });

    test('add through the API: an L3VNI with a host session and an L2VNI in it converge on both nodes', async () => {
      const since = await L().editManifests(NODE, {
        write: {
          'l3vni-green.yaml': GREEN_L3.replace('__VNI__', '300'),
          'l2vni-green.yaml': GREEN_L2.replace('__VNI__', '310'),
        },
      });
      const e = await reconciled(NODE, since, (x) => x['ready'] === 'True' && x['frrApplied'] === true);
      assert.ok(Number(e['kernelOperations']) > 0);
      for (const n of NODES) {
        const s = await converge(n);
        assert.equal(s.router.find((l) => l.name === 'green')?.kind, 'vrf', n);
        assert.match(s.runningConfig, /^vrf green\n vni 300\n/m, n);
      }
      const created = L()
        .applyLog()
        .filter((x) => x.msg === 'created')
        .map((x) => String(x['object']));
      assert.ok(
        created.some((o) => o.startsWith('L3VNI/openperouter-system/green')),
        created.join(', '),
      );
    });

    test('change through the API: a new VNI for green replaces the old one on both nodes', async () => {
      const since = await L().editManifests(NODE, {
        write: { 'l3vni-green.yaml': GREEN_L3.replace('__VNI__', '301') },
      });
      await reconciled(NODE, since, (x) => x['ready'] === 'True' && x['frrApplied'] === true);
      for (const n of NODES) {
        const s = await converge(n);
        assert.ok(
          s.router.some((l) => l.name === 'vni301'),
          n,
        );
        assert.ok(!s.router.some((l) => l.name === 'vni300'), `${n}: vni300 is stale`);
      }
    });

    test('the webhook denies a conflicting object (a VNI already used) and nothing changes', async () => {
      const before = await readNodeState(L(), NODE);
      const logBefore = L().applyLog().length;
      await L().editManifests(NODE, {
        write: {
          'l3vni-clash.yaml': GREEN_L3.replace('__VNI__', '100')
            .replace('name: green', 'name: clash')
            .replace('vrf: green', 'vrf: clash')
            .replace('192.169.12.0/24', '192.169.13.0/24'),
        },
      });
      const deadline = Date.now() + 60_000;
      let rejected: string | undefined;
      while (rejected === undefined && Date.now() < deadline) {
        const hit = L()
          .applyLog()
          .slice(logBefore)
          .find((x) => x.msg === 'rejected' && String(x['object']).includes('clash'));
        rejected = hit === undefined ? undefined : String(hit['error']);
        if (rejected === undefined) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(rejected, `the clash was not rejected:\n${await L().logs(10)}`);
      assert.match(rejected, /denied the request/);
      assert.match(rejected, /100/);
      const after = await readNodeState(L(), NODE);
      assert.deepEqual(linkKey(after), linkKey(before));
      await L().editManifests(NODE, { remove: ['l3vni-clash.yaml'] });
    });

    test('delete through the API: both nodes return exactly to their baseline', async () => {
      const since = await L().editManifests(NODE, { remove: ['l3vni-green.yaml', 'l2vni-green.yaml'] });
      await reconciled(NODE, since, (x) => x['ready'] === 'True' && x['frrApplied'] === true);
      for (const n of NODES) {
        const s = await converge(n);
        const b = baseline.get(n);
        assert.ok(b);
        assert.deepEqual(linkKey(s), linkKey(b), n);
      }
      await waitAll('after deleting green');
    });

    test('controller restarted with nothing changed: its first pass writes nothing', async () => {
      const since = L().agentLog(NODE).length;
      await L().restartProcess(NODE, 'agent');
      const e = await reconciled(NODE, since);
      assert.equal(e['ready'], 'True');
      assert.equal(e['frrApplied'], false);
      assert.equal(e['kernelOperations'], 0);
    });

    test('the whole lab still works at the end', async () => {
      await waitAll('at the end');
    });
  },
);
