// The kernel applier with VRFs, which the host kernel lacks: inside one user-mode Linux guest, the
// compiled applier runs under the guest's own Node process against throwaway namespaces.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startUml, type Uml, umlUnavailableReason } from '../lab/uml/uml.js';
import type { KernelApplyResult } from '../src/kernel/apply.js';
import { OWNER_ALIAS } from '../src/kernel/diff.js';
import type { KernelPlan, LinkSpec } from '../src/kernel/model.js';
import { gate, isRoot, type Prerequisite } from './support/prereq.js';

const hasUml: Prerequisite = () => umlUnavailableReason();

const HOST = `oprk-${process.pid}-host`;
const ROUTER = `oprk-${process.pid}-router`;
const APPLY_MODULE = new URL('../src/kernel/apply.js', import.meta.url).href;

// Runs in the guest: the plan and options on stdin, the result (or the error) as one JSON line.
const GUEST_SCRIPT = `
import { applyKernelPlan } from ${JSON.stringify(APPLY_MODULE)};
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { plan, opts } = JSON.parse(input);
try {
  console.log(JSON.stringify({ ok: true, result: await applyKernelPlan(plan, opts) }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, message: String(e && e.message), result: e && e.result }));
}
`;

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

interface GuestOutcome {
  ok: boolean;
  message?: string;
  result: KernelApplyResult;
}

interface LinkJson {
  ifname: string;
  master?: string;
  address: string;
  flags: string[];
  inet6_addr_gen_mode?: string;
  ifalias?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_data?: Record<string, unknown>;
  };
}

const SYSCTLS = {
  'net.ipv4.conf.all.forwarding': '1',
  'net.ipv6.conf.all.forwarding': '1',
  'net.ipv4.conf.all.arp_accept': '1',
  'net.ipv4.conf.default.arp_accept': '1',
  'net.ipv6.conf.all.accept_untracked_na': '1',
  'net.ipv6.conf.default.accept_untracked_na': '1',
  'net.vrf.strict_mode': '1',
  'net.ipv6.conf.default.addr_gen_mode': '1',
};

/** L3VNI 100 in VRF red with a dual-stack host session; L2VNI 110 with a dual-stack gateway in red. */
function vrfPlan(o: { table?: number; peVrf?: string } = {}): KernelPlan {
  const vxlan = (vni: number): LinkSpec => ({
    type: 'vxlan',
    name: `vni${vni}`,
    master: `br-pe-${vni}`,
    mtu: 1450,
    addresses: [],
    noIpv6LinkLocal: true,
    vni,
    local: '100.65.0.1',
    dstport: 4789,
    learning: false,
    neighSuppress: true,
  });
  const routerLinks: LinkSpec[] = [
    { type: 'vrf', name: 'red', addresses: [], table: o.table ?? 1100 },
    ...(o.peVrf === 'blue' ? [{ type: 'vrf' as const, name: 'blue', addresses: [], table: 1300 }] : []),
    { type: 'bridge', name: 'br-pe-100', master: 'red', addresses: [], noIpv6LinkLocal: true },
    vxlan(100),
    {
      type: 'veth',
      name: 'pe-e-100',
      master: o.peVrf ?? 'red',
      mtu: 1450,
      addresses: ['192.169.10.1/24', 'fd00:10::1/64'],
      noIpv6LinkLocal: false,
      peer: { name: 'host-e-100', namespace: 'host' },
    },
    {
      type: 'bridge',
      name: 'br-pe-110',
      master: 'red',
      addresses: ['192.170.1.1/24', 'fd00:110::1/64'],
      mac: '00:f3:00:00:00:6e',
      noIpv6LinkLocal: false,
    },
    vxlan(110),
    {
      type: 'veth',
      name: 'pe-e-110',
      master: 'br-pe-110',
      mtu: 1450,
      addresses: [],
      peer: { name: 'host-e-110', namespace: 'host' },
    },
  ];
  return {
    routerNamespace: ROUTER,
    routerSysctls: { ...SYSCTLS },
    underlayInterfaces: ['nic0'],
    loopbackAddresses: ['100.65.0.1/32', 'fd00:65::1/128'],
    routerLinks,
    hostLinks: [
      {
        type: 'veth',
        name: 'host-e-100',
        mtu: 1450,
        addresses: ['192.169.10.3/24', 'fd00:10::3/64'],
        peer: { name: 'pe-e-100', namespace: 'router' },
      },
      { type: 'bridge', name: 'br-hs-110', mtu: 1450, addresses: [] },
      {
        type: 'veth',
        name: 'host-e-110',
        master: 'br-hs-110',
        mtu: 1450,
        addresses: [],
        peer: { name: 'pe-e-110', namespace: 'router' },
      },
    ],
    externalBridgePorts: [],
  };
}

describe('kernel applier with VRFs, inside user-mode Linux', gate(isRoot, hasUml), () => {
  let uml: Uml | undefined;
  const guest = (): Uml => {
    assert.ok(uml, 'the guest did not boot');
    return uml;
  };

  const apply = async (plan: KernelPlan, opts: Record<string, unknown> = {}): Promise<KernelApplyResult> => {
    const r = await guest().exec(
      `cd /work/main && ${shellQuote(process.execPath)} --input-type=module -e ${shellQuote(GUEST_SCRIPT)}`,
      {
        stdin: JSON.stringify({ plan, opts: { hostNamespace: HOST, ...opts } }),
        timeoutMs: 180_000,
      },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const outcome = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as GuestOutcome;
    assert.ok(outcome.ok, `${outcome.message}\n${JSON.stringify(outcome.result?.batches, null, 1)}`);
    return outcome.result;
  };
  const links = async (ns: string): Promise<Map<string, LinkJson>> => {
    const list = JSON.parse(await guest().run(`ip -n ${ns} -d -json link show`)) as LinkJson[];
    return new Map(list.map((l) => [l.ifname, l]));
  };
  const addresses = async (ns: string, dev: string): Promise<string[]> => {
    const [a] = JSON.parse(await guest().run(`ip -n ${ns} -json addr show dev ${dev}`)) as {
      addr_info: { local: string; prefixlen: number; scope: string }[];
    }[];
    return (a?.addr_info ?? []).filter((x) => x.scope !== 'link').map((x) => `${x.local}/${x.prefixlen}`);
  };
  const assertConverged = async (plan: KernelPlan): Promise<void> => {
    const dry = await apply(plan, { dryRun: true });
    assert.deepEqual(dry.batches, []);
  };

  before(async () => {
    uml = await startUml({ name: 'kvrf' });
    await guest().run(`set -e
ip netns add ${HOST}
ip -n ${HOST} -batch - <<'EOF'
link set lo up
link add nic0 mtu 9000 type veth peer name nic0-tor
addr add 192.168.11.2/24 dev nic0
addr add fd00:11::2/64 nodad dev nic0
link set nic0 up
link set nic0-tor up
EOF`);
  });
  after(async () => {
    // the guest's kernel (and every namespace in it) ends with the guest
    await uml?.stop();
  });

  test('cold apply: VRF tables, enslavement, IPv6 on the VRF slaves, gateway MAC; a second apply writes nothing', async () => {
    const plan = vrfPlan();
    const cold = await apply(plan);
    assert.equal(cold.attempts, 1, JSON.stringify(cold.batches, null, 1));
    assert.deepEqual(cold.warnings, []);
    const router = await links(ROUTER);
    const red = router.get('red');
    assert.equal(red?.linkinfo?.info_kind, 'vrf');
    assert.equal(red?.linkinfo?.info_data?.['table'], 1100);
    // the router namespace is ours: its links carry no alias (host links do)
    assert.equal(red?.ifalias, undefined);
    assert.equal((await links(HOST)).get('host-e-100')?.ifalias, OWNER_ALIAS);
    assert.ok(red?.flags.includes('UP'));
    for (const [name, master] of [
      ['br-pe-100', 'red'],
      ['vni100', 'br-pe-100'],
      ['pe-e-100', 'red'],
      ['br-pe-110', 'red'],
      ['vni110', 'br-pe-110'],
      ['pe-e-110', 'br-pe-110'],
    ] as const) {
      assert.equal(router.get(name)?.master, master, name);
      assert.ok(router.get(name)?.flags.includes('UP'), `${name} up`);
    }
    assert.equal(router.get('vni100')?.linkinfo?.info_slave_data?.['neigh_suppress'], true);
    assert.equal(router.get('br-pe-100')?.inet6_addr_gen_mode, 'none');
    assert.equal(router.get('br-pe-110')?.address, '00:f3:00:00:00:6e');
    // Link-local addresses: the host-session end and the IPv6 gateway bridge have one (their mode set
    // before they had a carrier), the L3 bridge, the VXLANs and the L2 port none.
    const linkLocal = async (name: string): Promise<boolean> =>
      (await guest().run(`ip -n ${ROUTER} -6 addr show dev ${name} scope link`)).includes('fe80::');
    for (const name of ['pe-e-100', 'br-pe-110'])
      assert.ok(await linkLocal(name), `${name} has a link-local`);
    for (const name of ['br-pe-100', 'vni100', 'vni110', 'pe-e-110']) {
      assert.ok(!(await linkLocal(name)), `${name} has no link-local`);
    }
    assert.deepEqual(await addresses(ROUTER, 'pe-e-100'), ['192.169.10.1/24', 'fd00:10::1/64']);
    assert.deepEqual(await addresses(ROUTER, 'br-pe-110'), ['192.170.1.1/24', 'fd00:110::1/64']);
    assert.deepEqual(await addresses(ROUTER, 'lo'), [
      '127.0.0.1/8',
      '100.65.0.1/32',
      'fd00:65::1/128',
      '::1/128',
    ]);
    assert.equal(
      (await guest().run(`ip netns exec ${ROUTER} cat /proc/sys/net/vrf/strict_mode`)).trim(),
      '1',
    );
    // the connected routes are in the VRF's table, and the host session answers through it
    const routes = await guest().run(`ip -n ${ROUTER} route show table 1100`);
    assert.match(routes, /192\.169\.10\.0\/24 dev pe-e-100/);
    // (no ping on these machines: a UDP datagram makes the host resolve the PE address, which only the
    // router's VRF-enslaved veth answers)
    await guest().run(
      `ip netns exec ${HOST} bash -c 'echo x > /dev/udp/192.169.10.1/9'; sleep 0.3; ip -n ${HOST} -json neigh show 192.169.10.1`,
    );
    const neigh = JSON.parse(await guest().run(`ip -n ${HOST} -json neigh show 192.169.10.1`)) as {
      lladdr?: string;
    }[];
    assert.equal(neigh[0]?.lladdr, router.get('pe-e-100')?.address, JSON.stringify(neigh));

    const again = await apply(plan);
    assert.equal(again.operations, 0);
    assert.deepEqual(again.processes, { readers: 3, writers: 0 });
    console.log(
      `# UML: cold apply ${cold.operations} operations in ${Math.round(cold.durationMs)} ms; ` +
        `no-op reconcile ${Math.round(again.durationMs)} ms`,
    );
  });

  test('a VRF table change recreates the VRF; its slaves are enslaved again with their IPv6 addresses', async () => {
    const plan = vrfPlan({ table: 1200 });
    const r = await apply(plan);
    assert.equal(r.attempts, 1, JSON.stringify(r.batches, null, 1));
    const router = await links(ROUTER);
    assert.equal(router.get('red')?.linkinfo?.info_data?.['table'], 1200);
    assert.equal(router.get('pe-e-100')?.master, 'red');
    assert.deepEqual(await addresses(ROUTER, 'pe-e-100'), ['192.169.10.1/24', 'fd00:10::1/64']);
    assert.deepEqual(await addresses(ROUTER, 'br-pe-110'), ['192.170.1.1/24', 'fd00:110::1/64']);
    await assertConverged(plan);
  });

  test('moving a running link to another VRF re-adds the IPv6 addresses the move flushed', async () => {
    const plan = vrfPlan({ table: 1200, peVrf: 'blue' });
    const r = await apply(plan);
    assert.equal(r.attempts, 1, JSON.stringify(r.batches, null, 1));
    const router = r.batches.filter((b) => b.namespace === ROUTER && b.kind === 'ip').flatMap((b) => b.lines);
    assert.ok(router.includes('link set dev pe-e-100 master blue'), router.join('\n'));
    assert.ok(router.includes('addr add fd00:10::1/64 dev pe-e-100'), router.join('\n'));
    assert.deepEqual(await addresses(ROUTER, 'pe-e-100'), ['192.169.10.1/24', 'fd00:10::1/64']);
    await assertConverged(plan);
  });
});
