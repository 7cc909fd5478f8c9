// Optional section (LAB=1): in the one-machine EVPN lab (lab/lab.ts, user-mode Linux, real FRR and
// the real static agents), the time from writing a new L3VNI manifest on one node to the route it
// advertises being in the other node's VRF routing table.
//   1. lab up (converged); 2. the other node (node-a) gets the L3VNI `green` first (so that it has
//   the VRF to import into); 3. t0: node-b's manifest is written; poll node-a's kernel table of VRF
//   green for node-b's host-session prefix (EVPN type-5) until it is there.
import { labUp } from '../lab/lab.js';
import { sleep } from './lib.js';

const GREEN = `apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata:
  name: green
  namespace: openperouter-system
spec:
  vrf: green
  vni: 300
  hostSession:
    asn: 64514
    hostASN: 64515
    localCIDR:
      ipv4: 192.169.12.0/24
`;

export interface LabResult {
  labUpMs: number;
  /** Manifest written on node-b → node-b's agent logged the reconcile (host clock, from its log). */
  reconciledMs: number;
  /** Manifest written on node-b → node-b's prefix in node-a's VRF table. */
  visibleMs: number;
  /** Polling resolution: the time one poll of node-a's table takes in the guest. */
  pollMs: number;
  route: string;
}

export async function labSection(log: (s: string) => void): Promise<LabResult> {
  const t0 = performance.now();
  log('lab: up (≈ 1–2 min)');
  const lab = await labUp({ convergeTimeoutMs: 300_000 });
  try {
    const labUpMs = performance.now() - t0;
    if (!lab.converged) throw new Error('the lab did not converge');
    const [a, b] = lab.topology.nodes;
    if (!a || !b) throw new Error('the lab has fewer than two nodes');
    let since = await lab.editManifests(a.name, { write: { 'l3vni-green.yaml': GREEN } });
    await lab.waitReconciled(a.name, since, { until: (e) => e['frrApplied'] === true });
    // node-b's host address in the session CIDR: the renderer's, read back from its rendered config after.
    const prefixOf = async (): Promise<string> => {
      const rc = await lab.vtysh(b.routerNamespace, 'show running-config');
      const m = /^router bgp \d+ vrf green\n(?:.*\n)*? {2}network (192\.169\.12\.\d+\/32)$/m.exec(rc);
      if (!m?.[1]) throw new Error('node-b: no green network in its running config');
      return m[1];
    };
    const routeIn = async (ns: string): Promise<string> =>
      (await lab.run(null, `ip -n ${ns} route show vrf green`)).trim();
    log('lab: writing the L3VNI on node-b');
    const w0 = performance.now();
    since = await lab.editManifests(b.name, { write: { 'l3vni-green.yaml': GREEN } });
    const reconciled = lab
      .waitReconciled(b.name, since, { until: (e) => e['frrApplied'] === true, timeoutMs: 180_000 })
      .then(() => performance.now() - w0);
    let visibleMs = Number.NaN;
    let route = '';
    const polls: number[] = [];
    const deadline = performance.now() + 180_000;
    // The prefix is known only once node-b rendered it; poll for any 192.169.12.x/32 from node-b's VTEP.
    while (performance.now() < deadline) {
      const p0 = performance.now();
      const table = await routeIn(a.routerNamespace).catch(() => '');
      polls.push(performance.now() - p0);
      const hit = table.split('\n').find((l) => /^192\.169\.12\.\d+ /.test(l) && l.includes(b.vtep));
      if (hit) {
        visibleMs = performance.now() - w0;
        route = hit;
        break;
      }
      await sleep(50);
    }
    const reconciledMs = await reconciled;
    if (Number.isNaN(visibleMs))
      throw new Error('node-b’s green prefix never showed up in node-a’s VRF green');
    const prefix = await prefixOf();
    if (!route.startsWith(prefix.replace('/32', ' '))) throw new Error(`route ${route} is not ${prefix}`);
    polls.sort((x, y) => x - y);
    return { labUpMs, reconciledMs, visibleMs, pollMs: polls[polls.length >> 1] ?? 0, route };
  } finally {
    await lab.down();
  }
}
