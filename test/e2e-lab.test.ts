// End to end, in the one-machine EVPN lab (lab/lab.ts): a leaf, external hosts and two nodes running
// our reloader and static agent with real FRR, inside one user-mode Linux guest booted once for the
// whole suite. Shaped after upstream's e2e suites (upstream-behaviour.md §10): sessions, type-5
// routes, pings over the L3 VNIs, the L2 VNI and the passthrough; then add / change / delete of every
// kind on node-b (node-a stays the reference), FRR and agent restarts, and invalid input.
//
// "Converged" for a change means: the node's namespaces hold exactly the links and addresses the
// renderer plans for its manifests, and `show running-config` has exactly the rendered lines
// (lab/expect.ts) — a stale interface, address or FRR stanza is a difference.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { frrDifferences, type NodeState, readNodeState } from '../lab/expect.js';
import { type AgentLogEntry, type Lab, type LabStatus, labUnavailableReason, labUp } from '../lab/lab.js';
import {
  assertChecks,
  failing,
  GREEN_L2,
  GREEN_L3,
  labWaits,
  linkKey,
  progressToStderr,
} from './support/lab-e2e.js';
import { gate, hasFrr, isRoot, type Prerequisite } from './support/prereq.js';

const labAvailable: Prerequisite = () => labUnavailableReason();
const NODE = 'node-b';
const suiteStart = performance.now();

describe('one-machine EVPN lab (UML, real FRR, our agents)', gate(isRoot, hasFrr, labAvailable), () => {
  let lab: Lab | undefined;
  let up: LabStatus | undefined;
  let baselineManifests: Map<string, string> | undefined;
  let baseline: NodeState | undefined;
  const L = (): Lab => {
    assert.ok(lab, 'the lab did not come up');
    return lab;
  };

  before(
    async () => {
      lab = await labUp({
        convergeTimeoutMs: 240_000,
        onProgress: progressToStderr,
      });
      up = lab.lastStatus;
    },
    { timeout: 360_000 },
  );

  after(
    async () => {
      await lab?.down();
    },
    { timeout: 60_000 },
  );

  const { converge, reconciled, waitAll } = labWaits(L);

  test('the lab comes up and converges: every session, route and ping', async (t) => {
    const l = L();
    const mem = await l.memory();
    t.diagnostic(
      `lab up in ${(l.timings.totalMs / 1000).toFixed(1)} s (boot ${l.timings.bootMs} ms, topology ${l.timings.topologyMs} ms, ` +
        `FRR ${l.timings.frrMs} ms, agents' start to converged ${(l.timings.convergeMs / 1000).toFixed(1)} s)`,
    );
    t.diagnostic(
      `memory: linux.uml ${mem.hostMainMB} MiB resident; guest ${mem.guestUsedMB}/${mem.guestTotalMB} MiB used; ` +
        `node ${mem.byProgram['node'] ?? 0}, bgpd ${mem.byProgram['bgpd'] ?? 0}, zebra ${mem.byProgram['zebra'] ?? 0} MiB`,
    );
    assert.ok(up, 'no status');
    assert.ok(l.converged, `not converged:\n${failing(up.checks, () => true)}\n${await l.logs(20)}`);
    baselineManifests = await l.manifests(NODE);
    baseline = await converge(NODE, 10_000);
    await converge('node-a', 10_000);
  });

  test('BGP: each node peers with the leaf (ipv4 unicast + l2vpn evpn), BFD up', () => {
    assert.ok(up);
    assertChecks(up, ['bgp-leaf', 'bfd-leaf'], 'leaf sessions');
    assertChecks(up, ['bgp-host'], 'host speaker sessions (one per VRF + passthrough)');
  });

  test("L3VNI type-5 routes both ways: the leaf's hosts in each node's VRF via the leaf VTEP onlink, the nodes' prefixes in the leaf's VRFs", async () => {
    assert.ok(up);
    assertChecks(up, ['type5-node', 'type5-leaf', 'host-routes'], 'type-5 routes');
    // And in FRR's own words: the leaf's EVPN table holds node-a's service prefix as a type-5 route.
    const evpn = await L().vtysh('leaf', 'show bgp l2vpn evpn route type prefix');
    assert.match(evpn, /\[5\]:\[0\]:\[32\]:\[10\.100\.1\.1\]/, evpn);
  });

  test('ping over VXLAN: host → external hosts in VRF red (IPv4 and IPv6) and blue, from the veth and from a service address', () => {
    assert.ok(up);
    assertChecks(up, ['ping-l3'], 'L3VNI pings');
    const ids = up.checks.filter((c) => c.group === 'ping-l3').map((c) => c.id);
    assert.ok(
      ids.some((i) => i.includes('>2001:db8:20::2')),
      'an IPv6 ping to hostA-red',
    );
    assert.ok(
      ids.some((i) => i.includes('10.100.1.1>192.168.20.2')),
      'a ping from the service prefix',
    );
  });

  test('L2VNI: workloads on node-a and node-b reach each other and the anycast gateway', () => {
    assert.ok(up);
    assertChecks(up, ['ping-l2'], 'L2VNI pings');
  });

  test('passthrough: the host reaches hostA-default through the default table', () => {
    assert.ok(up);
    assertChecks(up, ['ping-passthrough'], 'passthrough pings');
  });

  test('add: an L3VNI with a host session and an L2VNI in it converge on node-b', async () => {
    const since = await L().editManifests(NODE, {
      write: {
        'l3vni-green.yaml': GREEN_L3.replace('__VNI__', '300'),
        'l2vni-green.yaml': GREEN_L2.replace('__VNI__', '310'),
      },
    });
    const e = await reconciled(NODE, since, (x) => x['ready'] === 'True' && x['frrApplied'] === true);
    assert.ok(Number(e['kernelOperations']) > 0);
    const s = await converge(NODE);
    const r = (name: string) => s.router.find((l) => l.name === name);
    assert.equal(r('green')?.kind, 'vrf');
    assert.equal(r('vni300')?.master, 'br-pe-300');
    assert.equal(r('br-pe-310')?.master, 'green');
    assert.deepEqual(r('br-pe-310')?.addresses, ['192.171.1.1/24']);
    assert.ok(s.host.some((l) => l.name === 'br-hs-310'));
    assert.match(s.runningConfig, /^vrf green\n vni 300\n/m);
    assert.match(
      s.runningConfig,
      /^router bgp 64514 vrf green\n(.*\n)*? neighbor 192\.169\.12\.3 remote-as 64515/m,
    );
  });

  test('change: VNIs of the L3VNI and L2VNI, the passthrough host ASN and the underlay timers', async () => {
    const m = baselineManifests;
    assert.ok(m);
    const underlay = m.get('underlay.yaml') ?? '';
    const passthrough = m.get('passthrough.yaml') ?? '';
    const since = await L().editManifests(NODE, {
      write: {
        'l3vni-green.yaml': GREEN_L3.replace('__VNI__', '301'),
        'l2vni-green.yaml': GREEN_L2.replace('__VNI__', '311'),
        'passthrough.yaml': passthrough.replace('hostASN: 64516', 'hostASN: 64517'),
        'underlay.yaml': underlay
          .replace('holdTimeSeconds: 90', 'holdTimeSeconds: 30')
          .replace('keepaliveTimeSeconds: 30', 'keepaliveTimeSeconds: 10'),
      },
    });
    await reconciled(NODE, since, (x) => x['ready'] === 'True');
    const s = await converge(NODE);
    for (const gone of ['vni300', 'br-pe-300', 'vni310', 'br-pe-310']) {
      assert.ok(!s.router.some((l) => l.name === gone), `${gone} should be gone`);
    }
    assert.ok(s.router.some((l) => l.name === 'vni301') && s.router.some((l) => l.name === 'vni311'));
    assert.match(s.runningConfig, /^ neighbor 192\.169\.50\.3 remote-as 64517$/m);
    assert.match(s.runningConfig, /^ neighbor 192\.168\.11\.2 timers 10 30$/m);
  });

  test('delete: removing the added objects and restoring the changed ones gives back the exact baseline', async () => {
    const m = baselineManifests;
    assert.ok(m && baseline);
    const since = await L().editManifests(NODE, {
      write: {
        'passthrough.yaml': m.get('passthrough.yaml') ?? '',
        'underlay.yaml': m.get('underlay.yaml') ?? '',
      },
      remove: ['l3vni-green.yaml', 'l2vni-green.yaml'],
    });
    await reconciled(NODE, since, (x) => x['ready'] === 'True');
    const s = await converge(NODE);
    // Identical to the state before the add: same links, masters, addresses, and FRR lines.
    assert.deepEqual(linkKey(s), linkKey(baseline));
    assert.deepEqual(frrDifferences(baseline.runningConfig, s.runningConfig), []);
    await waitAll('after restoring node-b');
  });

  test('L3Passthrough: delete removes its veth and BGP neighbor, re-adding brings the host session back', async () => {
    const m = baselineManifests;
    assert.ok(m);
    let since = await L().editManifests(NODE, { remove: ['passthrough.yaml'] });
    await reconciled(NODE, since, (x) => x['ready'] === 'True');
    const s = await converge(NODE);
    assert.ok(!s.host.some((l) => l.name === 'pt-host') && !s.router.some((l) => l.name === 'pt-ns'));
    assert.doesNotMatch(s.runningConfig, /192\.169\.50\./);
    since = await L().editManifests(NODE, { write: { 'passthrough.yaml': m.get('passthrough.yaml') ?? '' } });
    await reconciled(NODE, since, (x) => x['ready'] === 'True');
    await converge(NODE);
    const st = await waitAll('after re-adding the passthrough');
    assertChecks(st, ['ping-passthrough'], 'passthrough pings after re-adding');
  });

  test('Underlay: delete tears the node down (NIC back to the host, leaf session down), re-adding rebuilds it', async () => {
    const m = baselineManifests;
    assert.ok(m);
    let since = await L().editManifests(NODE, { remove: ['underlay.yaml'] });
    const e = await reconciled(NODE, since);
    assert.equal(e['ready'], 'False', 'the VNIs and the passthrough cannot apply without an underlay');
    const s = await converge(NODE, 120_000, { valid: false });
    assert.deepEqual(
      s.router.map((l) => l.name),
      ['lo'],
    );
    const nic = s.host.find((l) => l.name === 'toswitch');
    assert.deepEqual(nic?.addresses, ['192.168.11.4/24'], 'the NIC is back in the host with its address');
    assert.doesNotMatch(s.runningConfig, /router bgp/);
    const leafState = async () => {
      const j = JSON.parse(await L().vtysh('leaf', 'show bgp neighbors 192.168.11.4 json')) as Record<
        string,
        { bgpState?: string }
      >;
      return j['192.168.11.4']?.bgpState ?? 'unknown';
    };
    assert.notEqual(await leafState(), 'Established', "the leaf's session to node-b is down");
    since = await L().editManifests(NODE, { write: { 'underlay.yaml': m.get('underlay.yaml') ?? '' } });
    await reconciled(NODE, since, (x) => x['ready'] === 'True');
    await converge(NODE);
    await waitAll('after re-adding the underlay');
  });

  test('FRR killed and restarted: the reloader re-applies the last good config by itself', async () => {
    const before = L().reloaderLog(NODE).length;
    const agentBefore = L().agentLog(NODE).length;
    await L().restartFrr(NODE);
    const deadline = Date.now() + 120_000;
    let reapplied: AgentLogEntry | undefined;
    while (reapplied === undefined && Date.now() < deadline) {
      reapplied = L()
        .reloaderLog(NODE)
        .slice(before)
        .find((e) => e['event'] === 'frr-reapply' && e['result'] === 'applied');
      if (reapplied === undefined) await sleep(500);
    }
    assert.ok(
      reapplied,
      `no re-apply in the reloader log:\n${JSON.stringify(L().reloaderLog(NODE).slice(before))}`,
    );
    await converge(NODE);
    await waitAll('after the FRR restart');
    const pushes = L()
      .agentLog(NODE)
      .slice(agentBefore)
      .filter((x) => x.msg === 'reconciled' && x['frrApplied'] === true);
    assert.deepEqual(pushes, [], 'the agent did not have to push anything');
  });

  test('agent restarted with nothing changed: its first pass writes nothing (kernelOperations 0, frrApplied false)', async () => {
    const since = L().agentLog(NODE).length;
    await L().restartProcess(NODE, 'agent');
    const e = await reconciled(NODE, since);
    assert.equal(e['ready'], 'True');
    assert.equal(e['frrApplied'], false);
    assert.equal(e['kernelOperations'], 0);
  });

  test('invalid input changes nothing and is reported in the status file; fixing it clears the report', async () => {
    const m = baselineManifests;
    assert.ok(m && baseline);
    const blue = m.get('l3vni-blue.yaml') ?? '';
    const before = await readNodeState(L(), NODE);
    let since = await L().editManifests(NODE, {
      write: { 'l3vni-blue.yaml': blue.replace('vni: 200', 'vni: 99999999') },
    });
    const e = await reconciled(NODE, since);
    assert.equal(e['frrApplied'], false);
    assert.equal(e['kernelOperations'], 0);
    assert.ok(
      L()
        .agentLog(NODE)
        .slice(since)
        .some((x) => x.msg === 'invalid input' && JSON.stringify(x).includes('blue')),
      'the agent logs the invalid object',
    );
    const status = JSON.stringify(L().agentStatus(NODE));
    assert.match(status, /blue/, `the status file names the invalid object: ${status}`);
    assert.match(status, /"status":"False"/, `Ready is False: ${status}`);
    const after = await readNodeState(L(), NODE);
    assert.deepEqual(after.router, before.router);
    assert.deepEqual(frrDifferences(before.runningConfig, after.runningConfig), []);
    since = await L().editManifests(NODE, { write: { 'l3vni-blue.yaml': blue } });
    const fixed = await reconciled(NODE, since);
    assert.equal(fixed['ready'], 'True');
    assert.equal(fixed['kernelOperations'], 0);
    assert.doesNotMatch(JSON.stringify(L().agentStatus(NODE)), /failedResources":\[\{/);
  });

  test('the whole lab still works at the end', async (t) => {
    await waitAll('at the end');
    t.diagnostic(`suite ran ${((performance.now() - suiteStart) / 1000).toFixed(1)} s`);
    const restarts = L().speakerRestarts;
    t.diagnostic(
      `host speakers restarted for FRR 8.4's missed addresses: ${restarts.length}${restarts.map((r) => ` [${r.node}: ${r.reason}]`).join('')}`,
    );
    const advisories = (L().lastStatus?.checks ?? []).filter((c) => c.advisory && !c.ok);
    for (const c of advisories) t.diagnostic(`advisory: ${c.subject}: ${c.detail}`);
  });
});
