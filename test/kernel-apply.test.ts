// The kernel applier against the real host kernel (no VRF here: L2VNIs, passthrough, underlay), in
// throwaway namespaces: one plays the host, one the router. Nothing touches the machine's own
// namespace or the real `perouter`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { applyKernelPlan, KernelApplyError, type KernelApplyResult } from '../src/kernel/apply.js';
import { OWNER_ALIAS, UNDERLAY_GROUP } from '../src/kernel/diff.js';
import type { KernelPlan, LinkSpec, VethLink } from '../src/kernel/model.js';
import { freshNamespaceState, readNamespace } from '../src/kernel/read.js';
import { gate, hasIproute2, isRoot } from './support/prereq.js';

const PREFIX = `oprk-${process.pid}-`;
const HOST = `${PREFIX}host`;
const ROUTER = `${PREFIX}router`;
const created = new Set<string>();

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function addNetns(name: string): void {
  ip('netns', 'add', name);
  created.add(name);
}

function batch(ns: string, lines: string[]): void {
  execFileSync('ip', ['-n', ns, '-batch', '-'], {
    input: `${lines.join('\n')}\n`,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

interface LinkJson {
  ifname: string;
  mtu: number;
  master?: string;
  flags: string[];
  group: string;
  address: string;
  ifalias?: string;
  inet6_addr_gen_mode?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_data?: Record<string, unknown>;
  };
}
interface AddrJson {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}

function links(ns: string): Map<string, LinkJson> {
  const list = JSON.parse(ip('-n', ns, '-d', '-json', 'link', 'show')) as LinkJson[];
  return new Map(list.map((l) => [l.ifname, l]));
}

function link(ns: string, name: string): LinkJson {
  const l = links(ns).get(name);
  assert.ok(l, `${name} missing in ${ns}`);
  return l;
}

/** Global addresses of a link, as `ip -json addr` prints them. */
function addresses(ns: string, name: string): string[] {
  const [a] = JSON.parse(ip('-n', ns, '-json', 'addr', 'show', 'dev', name)) as AddrJson[];
  return (a?.addr_info ?? []).filter((x) => x.scope !== 'link').map((x) => `${x.local}/${x.prefixlen}`);
}

function sysctl(ns: string, key: string): string {
  return ip('netns', 'exec', ns, 'cat', `/proc/sys/${key.replaceAll('.', '/')}`).trim();
}

/**
 * Deletes the router namespace and waits until the kernel has destroyed it: `ip netns del` only drops
 * the name, the devices (and the host ends of their veths) go a moment later.
 */
async function loseRouterNamespace(): Promise<void> {
  ip('netns', 'del', ROUTER);
  for (let i = 0; i < 100 && links(HOST).has('pt-host'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!links(HOST).has('pt-host'), 'the host end of a veth outlived its namespace');
}

function veth(
  name: string,
  peer: string,
  peerNs: 'host' | 'router',
  extra: Partial<VethLink> = {},
): VethLink {
  return { type: 'veth', name, mtu: 1450, addresses: [], peer: { name: peer, namespace: peerNs }, ...extra };
}

interface PlanOptions {
  vnis: number[];
  /** VNI whose host veth is plugged into the user's bridge `br-user`. */
  externalVni?: number;
  mtu?: Record<number, number>;
  passthroughHost?: string[];
  underlay?: boolean;
}

/** An L2-only plan: L2VNIs on a loopback VTEP, managed host bridges, passthrough, an underlay NIC. */
function l2Plan(o: PlanOptions): KernelPlan {
  const routerLinks: LinkSpec[] = [];
  const hostLinks: LinkSpec[] = [];
  const externalBridgePorts: KernelPlan['externalBridgePorts'] = [];
  for (const vni of o.vnis) {
    const mtu = o.mtu?.[vni] ?? 1450;
    routerLinks.push(
      { type: 'bridge', name: `br-pe-${vni}`, addresses: [], noIpv6LinkLocal: true },
      {
        type: 'vxlan',
        name: `vni${vni}`,
        master: `br-pe-${vni}`,
        mtu,
        addresses: [],
        noIpv6LinkLocal: true,
        vni,
        local: '100.65.0.1',
        dstport: 4789,
        learning: false,
        neighSuppress: true,
      },
      veth(`pe-e-${vni}`, `host-e-${vni}`, 'host', { master: `br-pe-${vni}`, mtu }),
    );
    if (vni === o.externalVni) {
      hostLinks.push(veth(`host-e-${vni}`, `pe-e-${vni}`, 'router', { mtu }));
      externalBridgePorts.push({ bridge: 'br-user', port: `host-e-${vni}` });
    } else {
      hostLinks.push(
        { type: 'bridge', name: `br-hs-${vni}`, mtu, addresses: [] },
        veth(`host-e-${vni}`, `pe-e-${vni}`, 'router', { master: `br-hs-${vni}`, mtu }),
      );
    }
  }
  routerLinks.push(
    veth('pt-ns', 'pt-host', 'host', {
      mtu: 1500,
      addresses: ['192.169.50.1/24', 'fd00:50::1/64'],
      noIpv6LinkLocal: false,
    }),
  );
  hostLinks.push(
    veth('pt-host', 'pt-ns', 'router', {
      mtu: 1500,
      addresses: o.passthroughHost ?? ['192.169.50.3/24', 'fd00:50::3/64'],
    }),
  );
  return {
    routerNamespace: ROUTER,
    routerSysctls: {
      'net.ipv4.conf.all.forwarding': '1',
      'net.ipv6.conf.all.forwarding': '1',
      'net.ipv4.conf.all.arp_accept': '1',
      'net.ipv4.conf.default.arp_accept': '1',
      'net.ipv6.conf.all.accept_untracked_na': '1',
      'net.ipv6.conf.default.accept_untracked_na': '1',
      // no vrf module on this kernel: reported as a warning, not written
      'net.vrf.strict_mode': '1',
      'net.ipv6.conf.default.addr_gen_mode': '1',
    },
    underlayInterfaces: o.underlay === false ? [] : ['nic0'],
    loopbackAddresses: ['100.65.0.1/32'],
    routerLinks,
    hostLinks,
    externalBridgePorts,
  };
}

const BASE: PlanOptions = { vnis: [100, 101, 102, 103], externalVni: 103 };

async function apply(
  plan: KernelPlan,
  opts: Parameters<typeof applyKernelPlan>[1] = {},
): Promise<KernelApplyResult> {
  return applyKernelPlan(plan, { hostNamespace: HOST, ...opts });
}

async function assertConverged(plan: KernelPlan): Promise<void> {
  const dry = await apply(plan, { dryRun: true });
  assert.deepEqual(
    dry.batches.map((b) => b.lines),
    [],
    'the state read back equals the plan',
  );
  assert.deepEqual(dry.problems, []);
}

function opLines(r: KernelApplyResult, namespace: string): string[] {
  return r.batches.filter((b) => b.namespace === namespace).flatMap((b) => b.lines);
}

describe('kernel applier on the host kernel', gate(isRoot, hasIproute2), () => {
  before(() => {
    addNetns(HOST);
    batch(HOST, [
      'link set lo up',
      // the underlay NIC (a veth standing in for a physical one)
      'link add nic0 mtu 9000 type veth peer name nic0-tor',
      'addr add 192.168.11.2/24 dev nic0',
      'addr add fd00:11::2/64 nodad dev nic0',
      'link set nic0 up',
      'link set nic0-tor up',
      // the user's own links: a bridge our port joins, and a veth named like ours without our alias
      'link add br-user type bridge',
      'link set br-user up',
      'link add host-e-999 type veth peer name user-peer',
      'link add br-hs-999 type bridge',
    ]);
  });
  after(() => {
    // the router namespace is created by the applier itself
    created.add(ROUTER);
    for (const ns of [...created].reverse()) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  });

  test('a new namespace reads exactly as the applier models it without reading it', async () => {
    const name = `${PREFIX}fresh`;
    ip('netns', 'add', name);
    try {
      assert.deepEqual(await readNamespace(name), freshNamespaceState(true));
    } finally {
      ip('netns', 'del', name);
    }
  });

  test('cold apply of an L2 plan builds every link with its attributes', async () => {
    const plan = l2Plan(BASE);
    const r = await apply(plan);
    assert.equal(r.attempts, 1, JSON.stringify(r.batches, null, 1));
    assert.deepEqual(r.warnings, ['sysctl net.vrf.strict_mode does not exist in this kernel; not set']);
    assert.deepEqual(
      r.batches.map((b) => `${b.namespace}:${b.kind}`),
      [`${ROUTER}:netns`, `${ROUTER}:sysctl`, `${HOST}:ip`, `${ROUTER}:ip`, `${HOST}:ip`, `${ROUTER}:ip`],
    );
    assert.equal(
      r.operations,
      r.batches.reduce((n, b) => n + b.lines.length, 0),
    );
    // netns creation + its re-read, then one write round and the verifying read
    // one read of the host (no router namespace yet); the new namespace is not read; every namespace
    // and the sysctls are verified by the dump at the end of their last write process
    assert.deepEqual(r.processes, { readers: 1, writers: 6 });

    const router = links(ROUTER);
    const host = links(HOST);
    assert.ok(link(ROUTER, 'lo').flags.includes('UP'));
    assert.ok(addresses(ROUTER, 'lo').includes('100.65.0.1/32'));
    for (const vni of [100, 101, 102, 103]) {
      const vx = router.get(`vni${vni}`);
      assert.ok(vx, `vni${vni}`);
      assert.equal(vx.linkinfo?.info_kind, 'vxlan');
      assert.deepEqual(
        [vx.linkinfo?.info_data?.['id'], vx.linkinfo?.info_data?.['local'], vx.linkinfo?.info_data?.['port']],
        [vni, '100.65.0.1', 4789],
      );
      assert.equal(vx.linkinfo?.info_data?.['learning'], false);
      assert.equal(vx.master, `br-pe-${vni}`);
      assert.equal(vx.linkinfo?.info_slave_data?.['neigh_suppress'], true);
      assert.equal(vx.inet6_addr_gen_mode, 'none');
      assert.equal(vx.mtu, 1450);
      assert.ok(vx.flags.includes('UP'));
      const br = router.get(`br-pe-${vni}`);
      assert.equal(br?.linkinfo?.info_kind, 'bridge');
      assert.equal(br?.inet6_addr_gen_mode, 'none');
      assert.ok(br?.flags.includes('UP'));
      const pe = router.get(`pe-e-${vni}`);
      assert.equal(pe?.master, `br-pe-${vni}`);
      // the router namespace is ours: no alias there
      assert.equal(pe?.ifalias, undefined);
      assert.ok(pe?.flags.includes('UP'));
      const he = host.get(`host-e-${vni}`);
      assert.equal(he?.linkinfo?.info_kind, 'veth');
      assert.equal(he?.ifalias, OWNER_ALIAS);
      assert.equal(he?.mtu, 1450);
      assert.equal(he?.master, vni === 103 ? 'br-user' : `br-hs-${vni}`);
      assert.ok(he?.flags.includes('UP'));
      if (vni !== 103) assert.equal(host.get(`br-hs-${vni}`)?.ifalias, OWNER_ALIAS);
    }
    assert.deepEqual(addresses(ROUTER, 'pt-ns'), ['192.169.50.1/24', 'fd00:50::1/64']);
    assert.deepEqual(addresses(HOST, 'pt-host'), ['192.169.50.3/24', 'fd00:50::3/64']);
    // Link-local addresses: on the routed ends and the underlay NIC, on no bridge, VXLAN or L2 port.
    const linkLocal = (name: string): boolean =>
      ip('-n', ROUTER, '-6', 'addr', 'show', 'dev', name, 'scope', 'link').includes('fe80::');
    for (const name of ['pt-ns', 'nic0']) assert.ok(linkLocal(name), `${name} has a link-local address`);
    assert.equal(router.get('nic0')?.inet6_addr_gen_mode, 'eui64');
    for (const name of ['br-pe-100', 'vni100', 'pe-e-100']) assert.ok(!linkLocal(name), `${name} has none`);
    // the underlay NIC moved with its addresses, marked, up
    assert.equal(host.get('nic0'), undefined);
    const nic = router.get('nic0');
    assert.equal(nic?.group, UNDERLAY_GROUP);
    assert.equal(nic?.mtu, 9000);
    assert.ok(nic?.flags.includes('UP'));
    assert.deepEqual(addresses(ROUTER, 'nic0'), ['192.168.11.2/24', 'fd00:11::2/64']);
    for (const key of [
      'net.ipv4.conf.all.forwarding',
      'net.ipv6.conf.all.forwarding',
      'net.ipv4.conf.default.arp_accept',
    ]) {
      assert.equal(sysctl(ROUTER, key), '1', key);
    }
    // the user's links are as they were
    assert.equal(host.get('br-user')?.ifalias, undefined);
    assert.ok(host.has('host-e-999') && host.has('br-hs-999'));
  });

  test('a second apply writes nothing and spawns no writer', async () => {
    const r = await apply(l2Plan(BASE));
    assert.equal(r.operations, 0);
    assert.equal(r.attempts, 0);
    assert.deepEqual(r.batches, []);
    assert.deepEqual(r.processes, { readers: 3, writers: 0 });
  });

  test('a changed plan (VNI added and removed, MTU, address) writes only the difference', async () => {
    const plan = l2Plan({
      ...BASE,
      vnis: [100, 102, 103, 104],
      mtu: { 100: 1400 },
      passthroughHost: ['192.169.50.4/24', 'fd00:50::3/64'],
    });
    const r = await apply(plan);
    assert.equal(r.attempts, 1);
    assert.deepEqual(opLines(r, HOST), [
      'link del dev host-e-101',
      'link del dev br-hs-101',
      'link set dev br-hs-100 mtu 1400',
      'link set dev host-e-100 mtu 1400',
      'link add br-hs-104 mtu 1450 type bridge',
      `link set dev br-hs-104 alias ${OWNER_ALIAS} up`,
      // the pair was created from the router side
      `link set dev host-e-104 master br-hs-104 alias ${OWNER_ALIAS} up`,
      'addr del 192.169.50.3/24 dev pt-host',
      'addr add 192.169.50.4/24 brd + dev pt-host',
    ]);
    assert.deepEqual(opLines(r, ROUTER), [
      // pe-e-101 went with host-e-101
      'link del dev vni101',
      'link del dev br-pe-101',
      'link set dev vni100 mtu 1400',
      'link set dev pe-e-100 mtu 1400',
      // born without a link-local address (default addr_gen_mode 1): up on the creation line
      'link add br-pe-104 up type bridge',
      'link add vni104 mtu 1450 master br-pe-104 up type vxlan id 104 local 100.65.0.1 dstport 4789 nolearning',
      'link set dev vni104 type bridge_slave neigh_suppress on',
      `link add pe-e-104 mtu 1450 master br-pe-104 up type veth peer name host-e-104 mtu 1450 netns ${HOST}`,
    ]);
    const router = links(ROUTER);
    assert.ok(!router.has('vni101') && !router.has('br-pe-101') && !router.has('pe-e-101'));
    assert.equal(router.get('vni100')?.mtu, 1400);
    assert.deepEqual(addresses(HOST, 'pt-host'), ['192.169.50.4/24', 'fd00:50::3/64']);
    await assertConverged(plan);
  });

  test('a batch that stops at an error (a link created behind the applier) is re-read and retried', async () => {
    const plan = l2Plan({ ...BASE, vnis: [100, 102, 103, 104, 105] });
    const r = await apply(plan, {
      beforeWrite: (step, attempt) => {
        // just before the router batch that creates vni105, someone creates a bridge of that name
        if (attempt === 1 && step.role === 'router') batch(ROUTER, ['link add vni105 type bridge']);
      },
    });
    assert.equal(r.attempts, 2);
    const failed = r.batches.find((b) => b.error !== undefined);
    assert.ok(failed, JSON.stringify(r.batches));
    assert.match(failed.error ?? '', /^"link add vni105 .*type vxlan.*": RTNETLINK answers: File exists$/);
    const retry = r.batches.filter((b) => b.attempt === 2).flatMap((b) => b.lines);
    assert.equal(retry[0], 'link del dev vni105');
    assert.equal(link(ROUTER, 'vni105').linkinfo?.info_kind, 'vxlan');
    await assertConverged(plan);
  });

  test('a planned host name taken by a foreign link is an error naming it; the rest is applied', async () => {
    batch(HOST, ['link add host-e-106 type bridge']);
    const plan = l2Plan({ ...BASE, vnis: [100, 102, 103, 104, 105, 106] });
    await assert.rejects(apply(plan), (e: unknown) => {
      assert.ok(e instanceof KernelApplyError);
      assert.match(e.message, /host namespace: host-e-106 is planned but a bridge named so already exists/);
      assert.ok(e.result.operations > 0);
      return true;
    });
    assert.equal(link(HOST, 'host-e-106').linkinfo?.info_kind, 'bridge', 'the foreign link is untouched');
    assert.equal(link(ROUTER, 'vni106').master, 'br-pe-106', 'the rest of the VNI is built');
    batch(HOST, ['link del host-e-106']);
    const r = await apply(plan);
    assert.ok(r.operations > 0);
    await assertConverged(plan);
    await apply(l2Plan({ ...BASE, vnis: [100, 102, 103, 104] }));
  });

  test('the user-owned links are still there, untouched', () => {
    const host = links(HOST);
    assert.ok(host.has('host-e-999'));
    assert.ok(host.has('br-hs-999'));
    assert.equal(host.get('br-user')?.ifalias, undefined);
    assert.equal(host.get('host-e-103')?.master, 'br-user');
  });

  test('the external bridge port is detached when no longer planned there; the bridge stays', async () => {
    const plan = l2Plan({ ...BASE, vnis: [100, 102, 103, 104] });
    plan.externalBridgePorts = [];
    const r = await apply(plan);
    assert.deepEqual(opLines(r, HOST), ['link set dev host-e-103 nomaster']);
    assert.equal(link(HOST, 'host-e-103').master, undefined);
    assert.equal(link(HOST, 'br-user').linkinfo?.info_kind, 'bridge');
    await apply(l2Plan({ ...BASE, vnis: [100, 102, 103, 104] }));
    assert.equal(link(HOST, 'host-e-103').master, 'br-user');
  });

  test('a lost router namespace is rebuilt (host veths died with it, host bridges did not)', async () => {
    await loseRouterNamespace();
    const plan = l2Plan({ ...BASE, vnis: [100, 102, 103, 104], underlay: false });
    const r = await apply(plan);
    assert.equal(r.attempts, 1);
    assert.equal(r.batches[0]?.kind, 'netns');
    assert.ok(!opLines(r, HOST).some((l) => l.startsWith('link add br-hs-')), 'the host bridges survived');
    await assertConverged(plan);
  });

  test('removing the underlay moves the NIC back to the host with its addresses', async () => {
    // (nic0, a veth, died with the previous test's namespace, as a virtual NIC does: recreate it)
    batch(HOST, [
      'link add nic0 mtu 9000 type veth peer name nic0-tor',
      'addr add 192.168.11.2/24 dev nic0',
      'addr add fd00:11::2/64 nodad dev nic0',
      'link set nic0 up',
    ]);
    await apply(l2Plan({ ...BASE, vnis: [100] }));
    assert.equal(link(ROUTER, 'nic0').group, UNDERLAY_GROUP);
    assert.deepEqual(addresses(ROUTER, 'nic0'), ['192.168.11.2/24', 'fd00:11::2/64']);
    const plan = l2Plan({ ...BASE, vnis: [100], underlay: false });
    const r = await apply(plan);
    assert.deepEqual(opLines(r, ROUTER), [`link set dev nic0 netns ${HOST}`]);
    const nic = link(HOST, 'nic0');
    assert.equal(nic.group, 'default');
    assert.equal(nic.mtu, 9000);
    assert.ok(nic.flags.includes('UP'));
    assert.deepEqual(addresses(HOST, 'nic0'), ['192.168.11.2/24', 'fd00:11::2/64']);
    await assertConverged(plan);
  });

  test("production mode: the host is the process's own namespace (NIC moved back via /proc/PID/ns/net)", () => {
    // The applier runs in a child process living in the throwaway host namespace, with no hostNamespace.
    const script = `
import { applyKernelPlan } from ${JSON.stringify(new URL('../src/kernel/apply.js', import.meta.url).href)};
let input = '';
for await (const chunk of process.stdin) input += chunk;
console.log(JSON.stringify(await applyKernelPlan(JSON.parse(input))));`;
    const run = (plan: KernelPlan): KernelApplyResult =>
      JSON.parse(
        execFileSync('ip', ['netns', 'exec', HOST, process.execPath, '--input-type=module', '-e', script], {
          input: JSON.stringify(plan),
          encoding: 'utf8',
        }),
      ) as KernelApplyResult;
    const withUnderlay = run(l2Plan({ ...BASE, vnis: [100] }));
    assert.deepEqual(
      withUnderlay.batches.map((b) => b.namespace),
      ['host', ROUTER],
    );
    assert.equal(link(ROUTER, 'nic0').group, UNDERLAY_GROUP);
    const without = run(l2Plan({ ...BASE, vnis: [100], underlay: false }));
    const moveBack = opLines(without, ROUTER);
    assert.equal(moveBack.length, 1);
    assert.match(moveBack[0] ?? '', /^link set dev nic0 netns \/proc\/\d+\/ns\/net$/);
    assert.deepEqual(addresses(HOST, 'nic0'), ['192.168.11.2/24', 'fd00:11::2/64']);
    assert.equal(run(l2Plan({ ...BASE, vnis: [100], underlay: false })).operations, 0);
  });

  test('scale: cold apply of 10 VNIs, then no-op reconciles (timings printed)', async () => {
    await loseRouterNamespace();
    const vnis = Array.from({ length: 10 }, (_, i) => 200 + i);
    const plan = l2Plan({ vnis, underlay: false });
    const cold = await apply(plan);
    const noops: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await apply(plan);
      assert.equal(r.operations, 0);
      noops.push(r.durationMs);
    }
    const median = [...noops].sort((a, b) => a - b)[2] ?? 0;
    assert.equal(cold.attempts, 1, JSON.stringify(cold.batches, null, 1));
    console.log(
      `# cold apply of ${vnis.length} L2VNIs + passthrough: ${cold.operations} operations, ` +
        `${Math.round(cold.durationMs)} ms, ${cold.processes.readers} readers + ${cold.processes.writers} writers; ` +
        `no-op reconcile median ${median.toFixed(1)} ms with 3 readers`,
    );
  });
});
