// Static mode end to end on the host kernel, with real processes: a leaf (FRR, EVPN, an L2VNI of its
// own), a node whose "host" is a throwaway namespace running a BGP speaker (FRR), and on the node the
// real `openperouter reloader` (beside FRR in the router namespace) and `openperouter static`.
// No VRF on this kernel: L2VNIs without routing domain, one with a managed host bridge, L3Passthrough.
//
//   wl-leaf ── leaf (AS 64512, VTEP 100.64.0.1, br110+vxlan110) ══ toleaf/toswitch (MTU 9000) ══ node
//   node host ns: FRR AS 64516 (passthrough peer), br-hs-110 ── wl-node
//   node router ns: FRR AS 64514 (VTEP 100.65.0.1), reloader, agent
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { waitFor } from './support/eventually.js';
import { type FrrInstance, startFrr, stopAllFrr } from './support/frr-instance.js';
import { gate, hasFrr, hasIproute2, isRoot } from './support/prereq.js';
import {
  addNetns,
  type CliProcess,
  daemonPid,
  deleteNetns,
  globalAddresses,
  ip,
  ipBatch,
  killFrrDaemons,
  type LogRecord,
  linksOf,
  pingOnce,
  runCli,
  type StaticNode,
  type StatusFile,
  startFrrDaemons,
  startStaticNode,
  stopAllStaticNodes,
  tempDir,
} from './support/static-node.js';

const API = 'apiVersion: network.openperouter.io/v1alpha1';
const UNDERLAY = `${API}
kind: Underlay
metadata: { name: underlay, namespace: openperouter-system }
spec:
  asn: 64514
  interfaces: [{ type: NetworkDevice, networkDevice: { interfaceName: toswitch } }]
  neighbors: [{ asn: 64512, address: 192.168.11.2 }]
  tunnelEndpoint: { cidrs: [100.65.0.0/24] }
`;
const l2vni = (name: string, vni: number | string, extra = '') => `${API}
kind: L2VNI
metadata: { name: ${name}, namespace: openperouter-system }
spec:
  vni: ${vni}
${extra}`;
const WEB = l2vni('web', 110, '  hostMaster: { type: LinuxBridge, linuxBridge: { lifecycle: Managed } }\n');
const eastWest = (vni: number | string) => l2vni('east-west', vni);
const PASSTHROUGH = `${API}
kind: L3Passthrough
metadata: { name: passthrough, namespace: openperouter-system }
spec:
  hostSession: { asn: 64514, hostASN: 64516, localCIDR: { ipv4: 192.169.30.0/24 } }
`;
const NODE_FILE = 'nodeName: static-node-1\nnodeIndex: { index: 1 }\nlabels: { rack: r1 }\nlogLevel: info\n';

const NODE_UNDERLAY_IP = '192.168.11.3';
const LEAF_IP = '192.168.11.2';
const LEAF_VTEP = '100.64.0.1';
const NODE_VTEP = '100.65.0.1'; // index 1 in 100.65.0.0/24
const PT_ROUTER = '192.169.30.1';
const PT_HOST = '192.169.30.3';
const FABRIC_MTU = 9000;

const LEAF_CONFIG = `frr defaults traditional
router bgp 64512
 bgp router-id ${LEAF_VTEP}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor ${NODE_UNDERLAY_IP} remote-as 64514
 neighbor ${NODE_UNDERLAY_IP} timers connect 5
 address-family ipv4 unicast
  network ${LEAF_VTEP}/32
  neighbor ${NODE_UNDERLAY_IP} activate
 exit-address-family
 address-family l2vpn evpn
  neighbor ${NODE_UNDERLAY_IP} activate
  advertise-all-vni
 exit-address-family
exit
`;
const HOST_CONFIG = `frr defaults traditional
router bgp 64516
 bgp router-id ${PT_HOST}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor ${PT_ROUTER} remote-as 64514
 neighbor ${PT_ROUTER} timers connect 5
 address-family ipv4 unicast
  network 10.250.0.0/24
  neighbor ${PT_ROUTER} activate
 exit-address-family
exit
`;

// ---------------------------------------------------------------------------------------------------
// reading real state

async function bgpState(frr: FrrInstance, peer: string): Promise<string> {
  const j = JSON.parse(await frr.vtysh(`show bgp neighbors ${peer} json`)) as Record<
    string,
    { bgpState?: string }
  >;
  return j[peer]?.bgpState ?? 'none';
}

/** Type-3 (IMET) routes in the BGP EVPN table: `<originating VTEP> vni <n>` (the VNI from the route target). */
async function type3Routes(frr: FrrInstance): Promise<Set<string>> {
  const j = JSON.parse(await frr.vtysh('show bgp l2vpn evpn route type multicast json')) as Record<
    string,
    unknown
  >;
  const out = new Set<string>();
  for (const [rd, v] of Object.entries(j)) {
    if (typeof v !== 'object' || v === null || !rd.includes(':')) continue;
    for (const [prefix, entry] of Object.entries(v as Record<string, unknown>)) {
      const m = /^\[3\]:\[\d+\]:\[\d+\]:\[([^\]]+)\]$/.exec(prefix);
      if (!m) continue;
      const paths = ((entry as { paths?: unknown[][] }).paths ?? []).flat() as {
        extendedCommunity?: { string?: string };
      }[];
      for (const p of paths) {
        for (const rt of (p.extendedCommunity?.string ?? '').matchAll(/RT:\d+:(\d+)/g)) {
          out.add(`${m[1]} vni ${rt[1]}`);
        }
      }
    }
  }
  return out;
}

/** Prefixes of the IPv4 unicast BGP table. */
async function ipv4Prefixes(frr: FrrInstance): Promise<Set<string>> {
  const j = JSON.parse(await frr.vtysh('show bgp ipv4 unicast json')) as { routes?: Record<string, unknown> };
  return new Set(Object.keys(j.routes ?? {}));
}

const names = (ns: string): string[] => [...linksOf(ns).keys()].sort();
const readStatus = (file: string): StatusFile => parse(readFileSync(file, 'utf8')) as StatusFile;

// ---------------------------------------------------------------------------------------------------

describe(
  'static mode end to end (host kernel, real FRR, reloader and agent)',
  gate(isRoot, hasFrr, hasIproute2),
  () => {
    let leaf: FrrInstance;
    let hostFrr: FrrInstance;
    let node: StaticNode;
    let wlNode = '';
    let wlLeaf = '';
    let hostNs = '';
    let t0 = 0;
    const timings: Record<string, number> = {};

    const agent = (): CliProcess => {
      assert.ok(node.agent, 'agent started');
      return node.agent;
    };
    /** The next `reconciled` log record of the agent after index `from`. */
    const nextPass = (from: number, what = 'a reconcile pass', timeoutMs = 60_000): Promise<LogRecord> =>
      agent().waitForRecord(what, (r) => r.msg === 'reconciled', timeoutMs, from);

    const expectedRouterLinks = (vnis: number[]): string[] =>
      ['lo', 'toswitch', 'pt-ns', ...vnis.flatMap((v) => [`br-pe-${v}`, `vni${v}`, `pe-e-${v}`])].sort();
    const expectedHostLinks = (vnis: number[]): string[] =>
      ['lo', 'wl-port', 'pt-host', 'br-hs-110', ...vnis.map((v) => `host-e-${v}`)].sort();

    /** Waits until the node's links, the leaf's EVPN table and the status file show exactly these VNIs. */
    const converged = async (vnis: number[], gone: number[], what: string): Promise<void> => {
      const wantRouter = expectedRouterLinks(vnis);
      const wantHost = expectedHostLinks(vnis);
      await waitFor(
        `${what}: links`,
        () => {
          const r = names(node.routerNamespace);
          const h = names(hostNs);
          if (
            JSON.stringify(r) !== JSON.stringify(wantRouter) ||
            JSON.stringify(h) !== JSON.stringify(wantHost)
          ) {
            throw new Error(`router ${r.join(',')}; host ${h.join(',')}`);
          }
          return true;
        },
        60_000,
      );
      await waitFor(
        `${what}: type-3 routes on the leaf`,
        async () => {
          const t3 = await type3Routes(leaf);
          const missing = vnis.filter((v) => !t3.has(`${NODE_VTEP} vni ${v}`));
          const stale = gone.filter((v) => t3.has(`${NODE_VTEP} vni ${v}`));
          if (missing.length + stale.length > 0) throw new Error(`have ${[...t3].join(', ')}`);
          return true;
        },
        60_000,
      );
      await waitFor(
        `${what}: status Ready`,
        () => {
          const s = node.status();
          if (s?.status.conditions?.[0]?.status !== 'True') throw new Error(JSON.stringify(s?.status));
          return true;
        },
        30_000,
      );
    };

    before(async () => {
      // Three FRR instances (each in its own namespace) in parallel: leaf, the node's host BGP speaker, and
      // the node's router (inside startStaticNode).
      [leaf, hostFrr] = await Promise.all([
        startFrr({ name: 'leaf', daemons: ['bgpd'] }),
        startFrr({ name: 'nodehost', daemons: ['bgpd'] }),
      ]);
      hostNs = hostFrr.ns;
      wlNode = addNetns('wln');
      wlLeaf = addNetns('wll');
      // The fabric link: toswitch (the node's underlay NIC, in its host namespace) <-> toleaf.
      ip(
        'link',
        'add',
        'toswitch',
        'netns',
        hostNs,
        'mtu',
        String(FABRIC_MTU),
        'type',
        'veth',
        'peer',
        'name',
        'toleaf',
        'netns',
        leaf.ns,
        'mtu',
        String(FABRIC_MTU),
      );
      ipBatch(hostNs, [`addr add ${NODE_UNDERLAY_IP}/24 dev toswitch`, 'link set toswitch up']);
      // The leaf: VTEP on lo, its own L2VNI 110 (bridge + VXLAN) with a workload behind it.
      ip('link', 'add', 'leaf-wl', 'netns', leaf.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', wlLeaf);
      ipBatch(leaf.ns, [
        `addr add ${LEAF_IP}/24 dev toleaf`,
        'link set toleaf up',
        `addr add ${LEAF_VTEP}/32 dev lo`,
        'link add br110 type bridge',
        `link add vxlan110 mtu ${FABRIC_MTU - 50} type vxlan id 110 local ${LEAF_VTEP} dstport 4789 nolearning`,
        'link set vxlan110 master br110 addrgenmode none',
        'link set leaf-wl master br110',
        'link set br110 up',
        'link set vxlan110 up',
        'link set leaf-wl up',
      ]);
      ipBatch(wlLeaf, ['addr add 10.110.0.2/24 dev eth0', 'link set eth0 up']);
      // The node's workload: a port in the host namespace, plugged into br-hs-110 once the agent made it.
      // Its MTU is the bridge's (as a bridge CNI would set it): a smaller port would lower the bridge's
      // MTU (the kernel follows its ports until the MTU is set explicitly) and the next pass would
      // set it back, one write.
      const wlMtu = String(FABRIC_MTU - 50);
      ip(
        'link',
        'add',
        'wl-port',
        'netns',
        hostNs,
        'mtu',
        wlMtu,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        wlNode,
        'mtu',
        wlMtu,
      );
      ipBatch(wlNode, ['addr add 10.110.0.3/24 dev eth0', 'link set eth0 up']);
      ipBatch(hostNs, ['link set wl-port up']);
      const [l, h] = await Promise.all([leaf.reload(LEAF_CONFIG), hostFrr.reload(HOST_CONFIG)]);
      assert.ok(l.ok, l.output);
      assert.ok(h.ok, h.output);

      node = await startStaticNode({
        hostNamespace: hostNs,
        nodeFile: NODE_FILE,
        manifests: {
          'underlay.yaml': UNDERLAY,
          'l2vnis.yaml': `${WEB}---\n${eastWest(3001)}`,
          'passthrough.yaml': PASSTHROUGH,
        },
      });
      t0 = Date.now();
      node.startAgent();
    });

    after(async () => {
      await stopAllStaticNodes();
      await stopAllFrr();
      for (const ns of [wlNode, wlLeaf]) if (ns !== '') deleteNetns(ns);
      process.stderr.write(`# static-node timings (ms) ${JSON.stringify(timings)}\n`);
    });

    /** Adds the tail of the processes' log to a failure. */
    const diag = async (fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        const log = (() => {
          try {
            return readFileSync(node.logFile, 'utf8').split('\n').slice(-60).join('\n');
          } catch {
            return '(no log)';
          }
        })();
        if (e instanceof Error) e.message += `\n--- processes.log (tail)\n${log}`;
        throw e;
      }
    };

    test(
      'converges from scratch: underlay moved with its address, links, sessions, EVPN routes, status',
      { timeout: 120_000 },
      () =>
        diag(async () => {
          // Plug the workload in as soon as the managed host bridge exists.
          await waitFor('br-hs-110', () => (linksOf(hostNs).has('br-hs-110') ? true : undefined), 60_000, 50);
          ip('-n', hostNs, 'link', 'set', 'wl-port', 'master', 'br-hs-110');
          timings['startToKernel'] = Date.now() - t0;

          await waitFor(
            'BGP node <-> leaf Established',
            async () => ((await bgpState(node.router, LEAF_IP)) === 'Established' ? true : undefined),
            60_000,
          );
          timings['startToBgpEstablished'] = Date.now() - t0;
          assert.equal(await bgpState(leaf, NODE_UNDERLAY_IP), 'Established');

          // The underlay NIC moved into the router namespace with its address; its MTU is the node's.
          const router = linksOf(node.routerNamespace);
          const toswitch = router.get('toswitch');
          assert.ok(toswitch, 'toswitch in the router namespace');
          assert.deepEqual(globalAddresses(toswitch), [`${NODE_UNDERLAY_IP}/24`]);
          assert.ok(toswitch.flags.includes('UP'));
          assert.equal(linksOf(hostNs).has('toswitch'), false, 'toswitch left the host namespace');
          assert.deepEqual(globalAddresses(router.get('lo')), [`${NODE_VTEP}/32`]);
          // Underlay MTU as a node fact: VXLAN and veths sized from the 9000-byte NIC.
          assert.equal(router.get('vni110')?.mtu, FABRIC_MTU - 50);
          assert.equal(router.get('pe-e-110')?.mtu, FABRIC_MTU - 50);
          assert.equal(router.get('vni110')?.master, 'br-pe-110');
          assert.equal(router.get('pe-e-110')?.master, 'br-pe-110');
          const mtuLog = agent().find('underlay MTU')[0];
          assert.equal(mtuLog?.['underlayMtu'], FABRIC_MTU);
          assert.deepEqual(mtuLog?.['interfaces'], [
            { name: 'toswitch', namespace: 'host', mtu: FABRIC_MTU },
          ]);

          await converged([110, 3001], [], 'first convergence');
          const host = linksOf(hostNs);
          assert.equal(host.get('host-e-110')?.master, 'br-hs-110');
          assert.equal(
            host.get('host-e-3001')?.master,
            undefined,
            'a VNI without routing domain nor hostMaster: veth left unattached',
          );
          assert.deepEqual(globalAddresses(host.get('pt-host')), [`${PT_HOST}/24`]);
          assert.deepEqual(globalAddresses(linksOf(node.routerNamespace).get('pt-ns')), [`${PT_ROUTER}/24`]);
          assert.equal(host.get('pt-host')?.ifalias, 'openperouter');

          // The passthrough session: the host's BGP speaker and the router; routes flow host <-> fabric.
          await waitFor(
            'passthrough session Established',
            async () => ((await bgpState(hostFrr, PT_ROUTER)) === 'Established' ? true : undefined),
            60_000,
          );
          timings['startToPassthroughEstablished'] = Date.now() - t0;
          await waitFor(
            'host routes reach the leaf and fabric routes reach the host',
            async () =>
              (await ipv4Prefixes(leaf)).has('10.250.0.0/24') &&
              (await ipv4Prefixes(hostFrr)).has(`${LEAF_VTEP}/32`)
                ? true
                : undefined,
            60_000,
          );

          // Status file: RouterNodeConfigurationStatus, Ready.
          const s = node.status();
          assert.equal(s?.kind, 'RouterNodeConfigurationStatus');
          assert.equal(s?.metadata.name, 'static-node-1');
          assert.deepEqual(
            s?.status.conditions?.map((c) => [c.type, c.status, c.reason]),
            [
              ['Ready', 'True', 'ConfigurationSuccessful'],
              ['Degraded', 'False', 'ConfigurationSuccessful'],
            ],
          );
          assert.deepEqual(s?.status.failedResources, []);
        }),
    );

    test('L2 overlay: the workload behind br-hs-110 pings the one behind the leaf', { timeout: 90_000 }, () =>
      diag(async () => {
        await waitFor(
          'ping across the L2VNI',
          async () => ((await pingOnce(wlNode, '10.110.0.2')) ? true : undefined),
          60_000,
          200,
        );
        timings['startToPing'] = Date.now() - t0;
        // The leaf learned the node's workload MAC over EVPN (type-2) and the node the leaf's.
        const macs = JSON.parse(await leaf.vtysh('show evpn mac vni 110 json')) as {
          macs?: Record<string, { type?: string; remoteVtep?: string }>;
        };
        assert.ok(
          Object.values(macs.macs ?? {}).some((m) => m.type === 'remote' && m.remoteVtep === NODE_VTEP),
          JSON.stringify(macs),
        );
      }),
    );

    test('a pass with nothing changed writes nothing and does not touch FRR', { timeout: 60_000 }, () =>
      diag(async () => {
        const from = agent().records.length;
        writeFileSync(
          join(node.configDir, 'notes.txt'),
          'not a manifest: a change in the directory triggers a pass\n',
        );
        const r = await nextPass(from, 'the no-op pass');
        assert.equal(r['kernelOperations'], 0);
        assert.equal(r['frrApplied'], false);
        assert.equal(r['ready'], 'True');
        timings['noopReconcile'] = Number(r['durationMs']);
        // The reloader answered "unchanged" (FRR not touched).
        await node.reloader.waitForRecord(
          'unchanged config',
          (x) => x['event'] === 'frr-apply' && x['result'] === 'unchanged',
          10_000,
        );
      }),
    );

    test(
      'manifest changes converge: add an L2VNI, change a VNI number, delete one; nothing stale',
      { timeout: 240_000 },
      () =>
        diag(async () => {
          let t = Date.now();
          node.writeManifest('extra.yaml', l2vni('extra', 120));
          await converged([110, 120, 3001], [], 'add VNI 120');
          timings['addVniConverged'] = Date.now() - t;

          t = Date.now();
          node.writeManifest('l2vnis.yaml', `${WEB}---\n${eastWest(3002)}`);
          await converged([110, 120, 3002], [3001], 'VNI 3001 -> 3002');
          timings['changeVniConverged'] = Date.now() - t;
          assert.equal(linksOf(node.routerNamespace).get('vni3002')?.mtu, FABRIC_MTU - 50);

          t = Date.now();
          node.removeManifest('extra.yaml');
          await converged([110, 3002], [120, 3001], 'delete VNI 120');
          timings['deleteVniConverged'] = Date.now() - t;
          assert.deepEqual(node.status()?.status.failedResources, []);
          // The stretched segment survived the changes around it.
          assert.ok(await pingOnce(wlNode, '10.110.0.2', 2), 'ping still works');
        }),
    );

    test(
      'an invalid manifest changes nothing; the status file and the log name object, field and reason',
      { timeout: 60_000 },
      () =>
        diag(async () => {
          const router = names(node.routerNamespace);
          const host = names(hostNs);
          const from = agent().records.length;
          node.writeManifest('l2vnis.yaml', `${WEB}---\n${eastWest(0)}`);
          const r = await nextPass(from, 'the pass over the invalid manifest');
          assert.equal(r['kernelOperations'], 0, 'no kernel write');
          assert.equal(r['frrApplied'], false, 'FRR not touched');
          assert.equal(r['ready'], 'False');
          const warn = agent()
            .find('invalid input', from)
            .find((x) => x['object'] === 'L2VNI openperouter-system/east-west');
          assert.ok(warn, 'log names the object');
          assert.equal(warn['field'], 'spec.vni');
          assert.match(String(warn['reason']), /greater than or equal to 1; keeping its last good version/);
          const s = node.status();
          assert.deepEqual(
            s?.status.conditions?.map((c) => [c.type, c.status, c.reason]),
            [
              ['Ready', 'False', 'ConfigurationFailed'],
              ['Degraded', 'True', 'ConfigurationFailed'],
            ],
          );
          assert.equal(s?.status.failedResources?.length, 1);
          const f = s?.status.failedResources?.[0];
          assert.deepEqual([f?.kind, f?.name, f?.reason], ['L2VNI', 'east-west', 'ValidationFailed']);
          assert.match(
            f?.message ?? '',
            /^spec\.vni: .*greater than or equal to 1; keeping its last good version \(.*l2vnis\.yaml, document 2\)$/,
          );
          assert.deepEqual(names(node.routerNamespace), router);
          assert.deepEqual(names(hostNs), host);
          assert.ok((await type3Routes(leaf)).has(`${NODE_VTEP} vni 3002`), 'VNI 3002 still advertised');

          // Fixed: Ready again, nothing to write.
          const from2 = agent().records.length;
          node.writeManifest('l2vnis.yaml', `${WEB}---\n${eastWest(3002)}`);
          const r2 = await nextPass(from2, 'the pass after the fix');
          assert.deepEqual([r2['ready'], r2['kernelOperations'], r2['frrApplied']], ['True', 0, false]);
          assert.deepEqual(node.status()?.status.failedResources, []);
        }),
    );

    test(
      'agent killed (SIGKILL) and restarted with nothing changed: its first pass is a no-op',
      { timeout: 60_000 },
      () =>
        diag(async () => {
          const before = readFileSync(node.statusFile, 'utf8');
          const ltt = node.status()?.status.conditions?.[0]?.lastTransitionTime;
          const { signal } = await agent().stop('SIGKILL');
          assert.equal(signal, 'SIGKILL');
          const reloaderFrom = node.reloader.records.length;
          const t = Date.now();
          node.startAgent();
          const r = await nextPass(0, 'the first pass after the restart');
          timings['restartToFirstPass'] = Date.now() - t;
          timings['restartFirstPassReconcile'] = Number(r['durationMs']);
          assert.equal(r['kernelOperations'], 0);
          assert.equal(r['frrApplied'], false);
          assert.equal(r['ready'], 'True');
          const answer = node.reloader.find('config unchanged, FRR not touched', reloaderFrom);
          assert.equal(answer.length, 1, 'the reloader answered applied: false');
          // The underlay NIC is found in the router namespace now, with the same MTU.
          assert.deepEqual(agent().find('underlay MTU')[0]?.['interfaces'], [
            { name: 'toswitch', namespace: 'router', mtu: FABRIC_MTU },
          ]);
          // The condition kept its lastTransitionTime across the restart.
          assert.equal(node.status()?.status.conditions?.[0]?.lastTransitionTime, ltt, before);
        }),
    );

    test(
      'agent restarted while a manifest is invalid: the saved last good version is kept, nothing torn down',
      { timeout: 60_000 },
      () =>
        diag(async () => {
          const router = names(node.routerNamespace);
          const from = agent().records.length;
          node.writeManifest('l2vnis.yaml', `${WEB}---\n${eastWest(0)}`);
          const r = await nextPass(from, 'the pass over the invalid manifest');
          assert.equal(r['ready'], 'False');
          await agent().stop('SIGKILL');
          node.startAgent();
          const first = await nextPass(0, 'the first pass after the restart');
          assert.deepEqual(
            [first['ready'], first['kernelOperations'], first['frrApplied']],
            ['False', 0, false],
            'a fresh process did not drop east-west',
          );
          assert.equal(agent().find('restored the last good version of every object').length, 1);
          assert.deepEqual(names(node.routerNamespace), router);
          const f = node.status()?.status.failedResources ?? [];
          assert.deepEqual(
            f.map((x) => [x.kind, x.name, x.reason]),
            [['L2VNI', 'east-west', 'ValidationFailed']],
          );
          assert.match(f[0]?.message ?? '', /keeping its last good version/);

          const from2 = agent().records.length;
          node.writeManifest('l2vnis.yaml', `${WEB}---\n${eastWest(3002)}`);
          const r2 = await nextPass(from2, 'the pass after the fix');
          assert.deepEqual([r2['ready'], r2['kernelOperations'], r2['frrApplied']], ['True', 0, false]);
        }),
    );
    test(
      'FRR daemons killed and restarted: the reloader re-applies the last good config, sessions come back',
      { timeout: 180_000 },
      () =>
        diag(async () => {
          const daemons = ['zebra', 'bgpd', 'staticd', 'bfdd'] as const;
          const oldBgpd = await daemonPid(node.router, 'bgpd');
          const from = node.reloader.records.length;
          await killFrrDaemons(node.router, daemons);
          await waitFor(
            'the leaf to see the session down',
            async () => ((await bgpState(leaf, NODE_UNDERLAY_IP)) !== 'Established' ? true : undefined),
            30_000,
          );
          const t = Date.now();
          await startFrrDaemons(node.router, daemons);
          assert.notEqual(await daemonPid(node.router, 'bgpd'), oldBgpd);
          const re = await node.reloader.waitForRecord(
            'frr-reapply after the restart',
            (x) => x['event'] === 'frr-reapply' && x['restart'] === true,
            60_000,
            from,
          );
          assert.equal(re['result'], 'applied', JSON.stringify(re));
          timings['frrRestartToReapply'] = Date.now() - t;
          await waitFor(
            'BGP node <-> leaf Established again',
            async () => ((await bgpState(node.router, LEAF_IP)) === 'Established' ? true : undefined),
            90_000,
          );
          timings['frrRestartToBgpEstablished'] = Date.now() - t;
          await waitFor(
            'passthrough Established again',
            async () => ((await bgpState(hostFrr, PT_ROUTER)) === 'Established' ? true : undefined),
            90_000,
          );
          await waitFor(
            'type-3 routes again',
            async () => {
              const t3 = await type3Routes(leaf);
              return t3.has(`${NODE_VTEP} vni 110`) && t3.has(`${NODE_VTEP} vni 3002`) ? true : undefined;
            },
            60_000,
          );
          await waitFor(
            'ping again',
            async () => ((await pingOnce(wlNode, '10.110.0.2')) ? true : undefined),
            60_000,
            200,
          );
          timings['frrRestartToPing'] = Date.now() - t;
          // The kernel state was never touched: the agent had nothing to do.
          assert.deepEqual(names(node.routerNamespace), expectedRouterLinks([110, 3002]));
        }),
    );

    test(
      '--once: exit 0 when Ready (a no-op here), 1 when an object is invalid or the reloader is unreachable',
      { timeout: 180_000 },
      () =>
        diag(async () => {
          // The long-running agent stops gracefully on SIGTERM and leaves everything in place.
          const { code } = await agent().stop('SIGTERM');
          assert.equal(code, 0);
          assert.deepEqual(names(node.routerNamespace), expectedRouterLinks([110, 3002]));
          const log = join(node.dir, 'once.log');

          const ok = await runCli([...node.staticArgs(), '--once'], log);
          assert.equal(ok.code, 0, ok.output);
          const pass = ok.records.find((r) => r.msg === 'reconciled');
          assert.deepEqual([pass?.['kernelOperations'], pass?.['frrApplied']], [0, false]);
          timings['onceNoopReconcile'] = Number(pass?.['durationMs']);

          // A directory with one more object that does not validate: exit 1, the rest (unchanged) applied.
          const dir = tempDir('once');
          cpSync(node.configDir, dir, { recursive: true });
          writeFileSync(join(dir, 'bad.yaml'), l2vni('bad', 'not-a-number'));
          const statusFile = join(dir, 'status.yaml');
          const args = node.staticArgs();
          args[args.indexOf('--config-dir') + 1] = dir;
          args[args.indexOf('--status-file') + 1] = statusFile;
          args[args.indexOf('--state-file') + 1] = join(dir, 'state.json');
          const bad = await runCli([...args, '--once'], log);
          assert.equal(bad.code, 1, bad.output);
          const badPass = bad.records.find((r) => r.msg === 'reconciled');
          assert.deepEqual([badPass?.['kernelOperations'], badPass?.['frrApplied']], [0, false]);
          const badStatus = readStatus(statusFile);
          assert.equal(badStatus.status.conditions?.[0]?.status, 'False');
          assert.deepEqual(
            badStatus.status.failedResources?.map((f) => [f.kind, f.name, f.reason]),
            [['L2VNI', 'bad', 'ValidationFailed']],
          );
          assert.match(
            badStatus.status.failedResources?.[0]?.message ?? '',
            /^spec\.vni: .*must be of type integer \(.*bad\.yaml, document 1\)$/,
          );

          // The reloader unreachable: FRR cannot be configured, exit 1, the kernel untouched.
          const noReloader = node.staticArgs();
          noReloader[noReloader.indexOf('--reloader-socket') + 1] = join(dir, 'nobody.sock');
          noReloader[noReloader.indexOf('--status-file') + 1] = statusFile;
          noReloader[noReloader.indexOf('--state-file') + 1] = join(dir, 'state.json');
          const unreachable = await runCli([...noReloader, '--once'], log);
          assert.equal(unreachable.code, 1, unreachable.output);
          assert.match(
            readStatus(statusFile).status.conditions?.[0]?.message ?? '',
            /^FRR configuration failed: reloader at .* unreachable/,
          );

          // A node file that cannot be read: exit 1 with the reason.
          const noNode = node.staticArgs();
          noNode[noNode.indexOf('--node-file') + 1] = join(dir, 'missing.yaml');
          const missing = await runCli([...noNode, '--once'], log);
          assert.equal(missing.code, 1);
          assert.match(missing.output, /node file .*missing\.yaml: ENOENT/);
          assert.deepEqual(names(node.routerNamespace), expectedRouterLinks([110, 3002]));
        }),
    );
  },
);
