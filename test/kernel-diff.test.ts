// The pure differ, without root: plans against hand-made actual states, and against a small model of
// the kernel that executes the differ's iproute2 lines (so "apply, then diff again" must give zero).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { renderWorkload } from '../bench/workload.js';
import { batchError, sysctlScript, verificationPlan } from '../src/kernel/apply.js';
import { diffKernel, KernelPlanError, OWNER_ALIAS, type Step, UNDERLAY_GROUP } from '../src/kernel/diff.js';
import type { KernelPlan, LinkSpec, VethLink } from '../src/kernel/model.js';
import {
  type ActualAddress,
  type ActualLink,
  type ActualState,
  canonicalCidr,
  parseBatchDump,
  parseSysctlDump,
} from '../src/kernel/read.js';

const HOST_REF = 'hostns';
const ROUTER = 'perouter';

// --- a model of the kernel, enough to run the differ's lines ------------------------------------------

class FakeKernelError extends Error {}

interface FakeNs {
  links: Map<string, ActualLink>;
  nextIndex: number;
}

function addr(cidr: string, extra: Partial<ActualAddress> = {}): ActualAddress {
  const c = canonicalCidr(cidr);
  return { cidr: c, family: c.includes(':') ? 6 : 4, scope: 'global', dynamic: false, ...extra };
}

class FakeKernel {
  readonly ns = new Map<string, FakeNs>();
  sysctls: Record<string, string> = {};
  /** Keys this kernel has (others are missing, like net.vrf.* without the vrf module). */
  knownSysctls = new Set<string>();
  writes = 0;

  constructor(hostLinks: ActualLink[] = []) {
    this.ns.set(HOST_REF, { links: new Map(), nextIndex: 100 });
    for (const l of hostLinks) this.put(HOST_REF, l);
  }

  put(ns: string, l: ActualLink): void {
    const n = this.space(ns);
    n.links.set(l.name, structuredClone(l));
    n.nextIndex = Math.max(n.nextIndex, l.index + 1);
  }

  space(name: string): FakeNs {
    const n = this.ns.get(name);
    if (n === undefined) throw new FakeKernelError(`no namespace ${name}`);
    return n;
  }

  state(): ActualState {
    const router = this.ns.get(ROUTER);
    const links = (n: FakeNs): ActualLink[] => [...n.links.values()].map((l) => structuredClone(l));
    const routerSysctls: Record<string, string | undefined> = {};
    for (const k of this.knownSysctls) routerSysctls[k] = this.sysctls[k] ?? '0';
    return router === undefined
      ? { host: { links: links(this.space(HOST_REF)) }, routerSysctls: {} }
      : { host: { links: links(this.space(HOST_REF)) }, router: { links: links(router) }, routerSysctls };
  }

  run(steps: Step[]): void {
    for (const step of steps) {
      const ns = step.role === 'host' ? HOST_REF : ROUTER;
      if (step.kind === 'netns') {
        this.writes++;
        this.ns.set(ROUTER, { links: new Map(), nextIndex: 2 });
        this.put(ROUTER, {
          index: 1,
          name: 'lo',
          up: false,
          mtu: 65536,
          group: 'default',
          addrGenMode: 'eui64',
          addresses: [],
        });
        continue;
      }
      for (const line of step.lines) {
        this.writes++;
        if (step.kind === 'sysctl') {
          const [key, value] = line.split('=') as [string, string];
          if (!this.knownSysctls.has(key)) throw new FakeKernelError(`no sysctl ${key}`);
          this.sysctls[key] = value;
        } else this.line(ns, line);
      }
    }
  }

  /** Address generation mode of a link created in (or moved into) `ns`: the namespace's default. */
  private defaultMode(ns: string): string {
    if (ns !== ROUTER) return 'eui64';
    return ['eui64', 'none', 'stable_secret', 'random'][Number(this.sysctls[DEFAULT_MODE] ?? '0')] ?? 'eui64';
  }

  /** The other end of a veth and its namespace. */
  private peerOf(ns: string, l: ActualLink): [string, ActualLink] | undefined {
    if (l.kind !== 'veth' || l.peer === undefined) return undefined;
    for (const [otherName, other] of this.ns) {
      for (const p of other.links.values()) {
        const sameNs = otherName === ns && l.peer.name === p.name;
        const crossNs = otherName !== ns && p.index === l.peer.index && p.peer?.index === l.index;
        if (p.kind === 'veth' && (sameNs || crossNs)) return [otherName, p];
      }
    }
    return undefined;
  }

  /** A link-local address appears when a link is up with a carrier (a veth: both ends up), unless mode none. */
  private linkLocal(l: ActualLink): void {
    if (!l.up || l.addrGenMode === 'none' || l.addresses.some((a) => a.scope === 'link')) return;
    l.addresses.push(addr('fe80::1/64', { scope: 'link' }));
  }

  private carrier(ns: string, l: ActualLink): boolean {
    const p = this.peerOf(ns, l);
    return l.kind !== 'veth' || p?.[1].up === true;
  }

  private newLink(ns: string, name: string, kind: string): ActualLink {
    const n = this.space(ns);
    if (n.links.has(name)) throw new FakeKernelError(`${name}: File exists`);
    const l: ActualLink = {
      index: n.nextIndex++,
      name,
      kind,
      up: false,
      mtu: 1500,
      mac: `02:00:00:00:${(n.nextIndex % 256).toString(16).padStart(2, '0')}:01`,
      group: 'default',
      addrGenMode: this.defaultMode(ns),
      addresses: [],
    };
    n.links.set(name, l);
    return l;
  }

  private get(ns: string, name: string): ActualLink {
    const l = this.space(ns).links.get(name);
    if (l === undefined) throw new FakeKernelError(`Cannot find device "${name}" in ${ns}`);
    return l;
  }

  private setMaster(ns: string, l: ActualLink, master: string | undefined): void {
    const old = l.master === undefined ? undefined : this.space(ns).links.get(l.master);
    const neu = master === undefined ? undefined : this.get(ns, master);
    if (neu !== undefined && neu.kind !== 'vrf' && neu.kind !== 'bridge')
      throw new FakeKernelError('not a master');
    if ((old?.kind === 'vrf' || neu?.kind === 'vrf') && l.up) {
      l.addresses = l.addresses.filter((a) => a.family === 4);
      if (this.carrier(ns, l)) this.linkLocal(l);
    }
    if (master === undefined) delete l.master;
    else l.master = master;
    if (neu?.kind === 'bridge') l.bridgePort = { neighSuppress: false };
    else delete l.bridgePort;
  }

  private remove(ns: string, l: ActualLink): void {
    const n = this.space(ns);
    n.links.delete(l.name);
    for (const s of n.links.values()) if (s.master === l.name) this.setMaster(ns, s, undefined);
    if (l.kind === 'veth' && l.peer !== undefined) {
      for (const [otherName, other] of this.ns) {
        for (const p of other.links.values()) {
          const sameNs = otherName === ns && l.peer.name === p.name;
          const crossNs = otherName !== ns && p.index === l.peer.index && p.peer?.index === l.index;
          if (p.kind === 'veth' && (sameNs || crossNs)) other.links.delete(p.name);
        }
      }
    }
  }

  private linkAttrs(ns: string, l: ActualLink, words: string[]): void {
    while (words.length > 0) {
      const w = words.shift();
      const arg = (): string => {
        const v = words.shift();
        if (v === undefined) throw new FakeKernelError(`${w} needs an argument`);
        return v;
      };
      switch (w) {
        case 'address':
          l.mac = arg();
          break;
        case 'mtu':
          l.mtu = Number(arg());
          break;
        case 'master':
          this.setMaster(ns, l, arg());
          break;
        case 'nomaster':
          this.setMaster(ns, l, undefined);
          break;
        case 'alias':
          l.alias = arg();
          break;
        case 'addrgenmode':
          l.addrGenMode = arg();
          break;
        case 'group': {
          const g = arg();
          l.group = g === '0' ? 'default' : g;
          break;
        }
        case 'up': {
          if (l.up) break;
          l.up = true;
          const p = this.peerOf(ns, l);
          if (l.kind !== 'veth') this.linkLocal(l);
          else if (p?.[1].up === true) {
            this.linkLocal(l);
            this.linkLocal(p[1]);
          }
          break;
        }
        case 'down':
          l.up = false;
          l.addresses = l.addresses.filter((a) => a.family === 4);
          break;
        case 'netns': {
          const target = arg();
          const n = this.space(target);
          if (n.links.has(l.name)) throw new FakeKernelError(`${l.name}: File exists in ${target}`);
          this.space(ns).links.delete(l.name);
          l.addresses = [];
          l.up = false;
          l.addrGenMode = this.defaultMode(target);
          l.index = n.nextIndex++;
          n.links.set(l.name, l);
          break;
        }
        case 'type':
          if (words.join(' ') !== 'bridge_slave neigh_suppress on') throw new FakeKernelError('unknown type');
          if (l.bridgePort === undefined) throw new FakeKernelError('Operation not supported');
          l.bridgePort.neighSuppress = true;
          words.length = 0;
          break;
        default:
          throw new FakeKernelError(`unknown link attribute ${w}`);
      }
    }
  }

  private line(ns: string, line: string): void {
    const words = line.split(' ');
    const [obj, verb] = words;
    if (obj === 'link' && verb === 'add') {
      const name = words[2] as string;
      const typeAt = words.indexOf('type');
      const kind = words[typeAt + 1] as string;
      const l = this.newLink(ns, name, kind);
      const rest = words.slice(typeAt + 2);
      if (kind === 'vrf') l.vrfTable = Number(rest[1]);
      if (kind === 'vxlan') {
        l.vxlan = {
          id: Number(rest[rest.indexOf('id') + 1]),
          local: canonicalCidr(rest[rest.indexOf('local') + 1] as string),
          port: Number(rest[rest.indexOf('dstport') + 1]),
          learning: !rest.includes('nolearning'),
        };
      }
      if (kind === 'veth') {
        const peerName = rest[2] as string;
        const netnsAt = rest.indexOf('netns');
        const peerNs = netnsAt < 0 ? ns : (rest[netnsAt + 1] as string);
        const p = this.newLink(peerNs, peerName, 'veth');
        this.linkAttrs(peerNs, p, rest.slice(3, netnsAt < 0 ? undefined : netnsAt));
        l.peer = peerNs === ns ? { name: p.name } : { index: p.index, netnsId: 0 };
        p.peer = peerNs === ns ? { name: l.name } : { index: l.index, netnsId: 0 };
      }
      this.linkAttrs(ns, l, words.slice(3, typeAt));
      return;
    }
    if (obj === 'link' && verb === 'set' && words[2] === 'dev') {
      this.linkAttrs(ns, this.get(ns, words[3] as string), words.slice(4));
      return;
    }
    if (obj === 'link' && verb === 'del' && words[2] === 'dev') {
      this.remove(ns, this.get(ns, words[3] as string));
      return;
    }
    if (obj === 'addr' && (verb === 'add' || verb === 'del')) {
      const l = this.get(ns, words[words.indexOf('dev') + 1] as string);
      const a = addr(words[2] as string);
      const has = l.addresses.some((x) => x.cidr === a.cidr);
      if (verb === 'add') {
        if (has) throw new FakeKernelError(`${a.cidr}: File exists`);
        l.addresses.push(a);
      } else {
        if (!has) throw new FakeKernelError(`${a.cidr}: Cannot assign requested address`);
        l.addresses = l.addresses.filter((x) => x.cidr !== a.cidr);
      }
      return;
    }
    throw new FakeKernelError(`unknown line ${line}`);
  }
}

// --- helpers -----------------------------------------------------------------------------------------

const DEFAULT_MODE = 'net.ipv6.conf.default.addr_gen_mode';
const SYSCTLS = {
  'net.ipv4.conf.all.forwarding': '1',
  'net.ipv6.conf.all.forwarding': '1',
  [DEFAULT_MODE]: '1',
};

function nic(name: string, index: number, addresses: string[], extra: Partial<ActualLink> = {}): ActualLink {
  return {
    index,
    name,
    up: true,
    mtu: 1500,
    mac: `52:54:00:00:00:${index.toString(16).padStart(2, '0')}`,
    group: 'default',
    addrGenMode: 'eui64',
    addresses: [...addresses.map((a) => addr(a)), addr('fe80::5054:ff:fe00:1/64', { scope: 'link' })],
    ...extra,
  };
}

function veth(
  name: string,
  peer: string,
  peerNs: 'host' | 'router',
  extra: Partial<VethLink> = {},
): VethLink {
  return { type: 'veth', name, mtu: 1450, addresses: [], peer: { name: peer, namespace: peerNs }, ...extra };
}

function l2Links(vni: number, local = '100.65.0.1'): { router: LinkSpec[]; host: LinkSpec[] } {
  return {
    router: [
      { type: 'bridge', name: `br-pe-${vni}`, addresses: [], noIpv6LinkLocal: true },
      {
        type: 'vxlan',
        name: `vni${vni}`,
        master: `br-pe-${vni}`,
        mtu: 1450,
        addresses: [],
        noIpv6LinkLocal: true,
        vni,
        local,
        dstport: 4789,
        learning: false,
        neighSuppress: true,
      },
      veth(`pe-e-${vni}`, `host-e-${vni}`, 'host', { master: `br-pe-${vni}` }),
    ],
    host: [
      { type: 'bridge', name: `br-hs-${vni}`, mtu: 1450, addresses: [] },
      veth(`host-e-${vni}`, `pe-e-${vni}`, 'router', { master: `br-hs-${vni}` }),
    ],
  };
}

/** An L3VNI with a dual-stack host session, an L2VNI with a gateway in its VRF, passthrough. */
function fullPlan(opts: { local?: string; table?: number; mtu?: number } = {}): KernelPlan {
  const local = opts.local ?? '100.65.0.1';
  const mtu = opts.mtu ?? 1450;
  const l2 = l2Links(110, local);
  return {
    routerNamespace: ROUTER,
    routerSysctls: { ...SYSCTLS },
    underlayInterfaces: ['eth1'],
    loopbackAddresses: [`${local}/32`],
    routerLinks: [
      { type: 'vrf', name: 'red', addresses: [], table: opts.table ?? 1100 },
      { type: 'bridge', name: 'br-pe-100', master: 'red', addresses: [], noIpv6LinkLocal: true },
      {
        type: 'vxlan',
        name: 'vni100',
        master: 'br-pe-100',
        mtu,
        addresses: [],
        noIpv6LinkLocal: true,
        vni: 100,
        local,
        dstport: 4789,
        learning: false,
        neighSuppress: true,
      },
      veth('pe-e-100', 'host-e-100', 'host', {
        master: 'red',
        mtu,
        addresses: ['192.169.10.1/24', 'fd00:10::1/64'],
        noIpv6LinkLocal: false,
      }),
      {
        type: 'bridge',
        name: 'br-pe-110',
        master: 'red',
        addresses: ['192.170.1.1/24', 'fd00:110::1/64'],
        mac: '00:F3:00:00:00:6E',
        noIpv6LinkLocal: false,
      },
      ...l2.router.slice(1),
      veth('pt-ns', 'pt-host', 'host', { mtu: 1500, addresses: ['192.169.50.1/24'], noIpv6LinkLocal: false }),
    ],
    hostLinks: [
      veth('host-e-100', 'pe-e-100', 'router', { mtu, addresses: ['192.169.10.3/24', 'fd00:10::3/64'] }),
      ...l2.host,
      veth('pt-host', 'pt-ns', 'router', { mtu: 1500, addresses: ['192.169.50.3/24'] }),
    ],
    externalBridgePorts: [],
  };
}

function diff(plan: KernelPlan, k: FakeKernel) {
  return diffKernel(plan, k.state(), { hostNetnsRef: HOST_REF });
}

/** Applies the plan to the fake kernel the way the applier does; returns the first round's diff. */
function converge(plan: KernelPlan, k: FakeKernel) {
  let d = diff(plan, k);
  if (d.steps[0]?.kind === 'netns') {
    k.run([d.steps[0]]);
    d = diff(plan, k);
  }
  k.run(d.steps);
  const again = diff(plan, k);
  assert.deepEqual(
    again.steps,
    [],
    `one round must converge; left:\n${again.steps.map((s) => s.lines.join('\n')).join('\n')}`,
  );
  return d;
}

function freshKernel(): FakeKernel {
  const k = new FakeKernel([
    nic('lo', 1, []),
    nic('eth0', 2, ['10.0.0.5/24']),
    nic('eth1', 3, ['192.168.11.2/24', 'fd00:11::2/64'], { mtu: 9000 }),
  ]);
  k.knownSysctls = new Set(Object.keys(SYSCTLS));
  return k;
}

function lines(d: { steps: Step[] }, role?: 'host' | 'router'): string[] {
  return d.steps
    .filter((s) => s.kind === 'ip' && (role === undefined || s.role === role))
    .flatMap((s) => s.lines);
}

function indexOfLine(all: string[], re: RegExp): number {
  const i = all.findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}:\n${all.join('\n')}`);
  return i;
}

// --- tests -------------------------------------------------------------------------------------------

describe('diffKernel', () => {
  test('empty kernel -> full plan: steps in a valid order, and one round converges', () => {
    const k = freshKernel();
    const plan = fullPlan();
    const first = diff(plan, k);
    assert.deepEqual(
      first.steps.map((s) => `${s.role}:${s.kind}`),
      ['router:netns', 'router:sysctl', 'host:ip', 'router:ip', 'host:ip', 'router:ip'],
      'the namespace first; the addresses of new router links last',
    );
    k.run([first.steps[0] as Step]);
    const d = converge(plan, k);
    assert.deepEqual(
      d.steps.map((s) => `${s.role}:${s.kind}`),
      ['router:sysctl', 'host:ip', 'router:ip', 'host:ip', 'router:ip'],
    );
    assert.deepEqual(d.steps[0]?.lines, [
      'net.ipv4.conf.all.forwarding=1',
      'net.ipv6.conf.all.forwarding=1',
      `${DEFAULT_MODE}=1`,
    ]);
    const hostPre = d.steps[1]?.lines ?? [];
    const router = lines(d, 'router');
    const host = d.steps[3]?.lines ?? [];
    // The NIC moves first, with the underlay mark, keeping its link-local address generation (a moved
    // device gets the namespace's default); its addresses are re-added in the router namespace.
    assert.deepEqual(hostPre, [
      `link set dev eth1 group ${UNDERLAY_GROUP} netns ${ROUTER} addrgenmode eui64`,
    ]);
    assert.deepEqual(router.slice(0, 3), [
      'addr add 192.168.11.2/24 dev eth1',
      'addr add fd00:11::2/64 dev eth1',
      'link set dev eth1 up',
    ]);
    assert.ok(router.includes('link set dev lo up'));
    assert.ok(router.includes('addr add 100.65.0.1/32 dev lo'));
    // Veth pairs are created from the router side, up, the host end straight into the host namespace
    // (down: the router end has no carrier until the host step brings the host end up).
    assert.ok(
      router.includes(
        `link add pe-e-100 mtu 1450 master red up type veth peer name host-e-100 mtu 1450 netns ${HOST_REF}`,
      ),
    );
    assert.ok(
      router.includes(
        `link add pe-e-110 mtu 1450 master br-pe-110 up type veth peer name host-e-110 mtu 1450 netns ${HOST_REF}`,
      ),
    );
    // The routed ends keep a link-local address: their mode is set before they have a carrier.
    const mode = indexOfLine(router, /^link set dev pe-e-100 addrgenmode eui64$/);
    assert.ok(indexOfLine(router, /^link add pe-e-100 /) < mode);
    assert.ok(mode < indexOfLine(router, /^addr add fd00:10::1\/64 dev pe-e-100$/));
    assert.ok(router.includes('link set dev pt-ns addrgenmode eui64'));
    assert.deepEqual(host.slice(0, 3), [
      `link set dev host-e-100 alias ${OWNER_ALIAS} up`,
      'addr add 192.169.10.3/24 brd + dev host-e-100',
      'addr add fd00:10::3/64 dev host-e-100',
    ]);
    assert.ok(host.includes(`link set dev host-e-110 master br-hs-110 alias ${OWNER_ALIAS} up`));
    assert.ok(indexOfLine(host, /^link add br-hs-110 /) < indexOfLine(host, /^link set dev host-e-110 /));
    // Masters before slaves; links come up on their creation line.
    assert.equal(router[router.indexOf('link set dev lo up') + 2], 'link add red up type vrf table 1100');
    assert.ok(router.includes('link add br-pe-100 master red up type bridge'));
    assert.ok(
      indexOfLine(router, /^link add br-pe-100 /) <
        indexOfLine(router, /^link add vni100 .*master br-pe-100/),
    );
    // The port is in its bridge at creation: neigh_suppress on the next line.
    assert.equal(
      router[indexOfLine(router, /^link add vni100 /) + 1],
      'link set dev vni100 type bridge_slave neigh_suppress on',
    );
    assert.ok(
      router.includes(
        'link add vni100 mtu 1450 master br-pe-100 up type vxlan id 100 local 100.65.0.1 dstport 4789 nolearning',
      ),
    );
    // The gateway bridge (it must keep a link-local address) is created down with its MAC, gets its mode,
    // and comes up only then.
    assert.ok(router.includes('link add br-pe-110 address 00:f3:00:00:00:6e master red type bridge'));
    assert.ok(
      indexOfLine(router, /^link set dev br-pe-110 addrgenmode eui64$/) <
        indexOfLine(router, /^link set dev br-pe-110 up$/),
    );
    assert.ok(router.includes('addr add 192.170.1.1/24 brd + dev br-pe-110'));
    // No router line sets an alias: the namespace is ours. Every host link gets it.
    assert.ok(!router.some((l) => l.includes(' alias ')), router.join('\n'));
    for (const l of fullPlan().hostLinks) {
      assert.ok(
        host.some((x) => x.startsWith(`link set dev ${l.name} `) && x.includes(`alias ${OWNER_ALIAS}`)),
        `${l.name} gets the alias`,
      );
    }
    // Link-local addresses where wanted, none elsewhere.
    const r = k.space(ROUTER).links;
    const ll = (name: string) => r.get(name)?.addresses.some((a) => a.scope === 'link') === true;
    for (const name of ['pe-e-100', 'pt-ns', 'br-pe-110', 'eth1']) assert.ok(ll(name), name);
    for (const name of ['br-pe-100', 'vni100', 'vni110', 'pe-e-110', 'red']) assert.ok(!ll(name), name);
    assert.equal(
      d.operations,
      d.steps.reduce((n, s) => n + s.lines.length, 0),
    );
    assert.deepEqual(d.problems, []);
  });

  test('an older deployment (router links with the alias, link-locals from mode eui64, default mode 0) is left as it is', () => {
    const k = freshKernel();
    const old = fullPlan();
    const { [DEFAULT_MODE]: _, ...oldSysctls } = SYSCTLS;
    old.routerSysctls = oldSysctls;
    converge(old, k);
    // What the older version left: an alias on every router link.
    for (const l of k.space(ROUTER).links.values())
      if (l.name !== 'lo' && l.name !== 'eth1') l.alias = OWNER_ALIAS;
    const d = converge(fullPlan(), k);
    assert.deepEqual(lines(d), []);
    assert.deepEqual(
      d.steps.map((s) => s.kind),
      ['sysctl'],
    );
  });

  test('one VNI added to the benchmark workload (L3VNI with a dual-stack host session + L2VNI) costs <= 20 operations', () => {
    const k = new FakeKernel([nic('lo', 1, []), nic('toswitch', 2, ['192.168.11.1/24'])]);
    const before = renderWorkload(20, undefined, { nic: 'toswitch' }).kernel;
    const after = renderWorkload(21, undefined, { nic: 'toswitch' }).kernel;
    k.knownSysctls = new Set(Object.keys(before.routerSysctls));
    converge(before, k);
    const d = converge(after, k);
    const all = d.steps.flatMap((s) => s.lines.map((l) => `[${s.role}] ${l}`));
    assert.ok(d.operations <= 20, `${d.operations} operations:\n${all.join('\n')}`);
    // The addresses of the links the router batch creates go in a process of their own, last
    // (FRR 8.4's zebra drops an address that reaches it before its link).
    assert.deepEqual(
      d.steps.map((s) => `${s.role}:${s.kind}`),
      ['router:ip', 'host:ip', 'router:ip'],
    );
    assert.ok(d.steps[2]?.lines.every((l) => l.startsWith('addr add ')));
    assert.equal(d.steps[2]?.lines.length, 4);
    assert.ok(!d.steps[0]?.lines.some((l) => l.startsWith('addr add ')));
    // The host-session end keeps a link-local address (it gets one when the host end comes up); the
    // bridges and VXLANs have none; the L2 port is left as the namespace made it (none).
    const r = k.space(ROUTER).links;
    const ll = (name: string) => r.get(name)?.addresses.some((a) => a.scope === 'link');
    assert.equal(r.get('pe-e-10020')?.addrGenMode, 'eui64');
    assert.equal(ll('pe-e-10020'), true);
    for (const name of ['br-pe-10020', 'vni10020', 'vni20020', 'pe-e-20020'])
      assert.equal(ll(name), false, name);
    // The L2 gateway bridge has an IPv6 gateway: it keeps its link-local (router advertisements).
    assert.equal(ll('br-pe-20020'), true);
    // Router links carry no alias; host links do.
    assert.ok(![...r.values()].some((l) => l.alias !== undefined && l.name.endsWith('20')));
    assert.equal(k.space(HOST_REF).links.get('host-e-20020')?.alias, OWNER_ALIAS);
    console.log(all.join('\n'));
  });

  test('the addresses of the router links a diff creates go last, in order; those of existing links stay in place', () => {
    const k = new FakeKernel([nic('lo', 1, []), nic('toswitch', 2, ['192.168.11.1/24'])]);
    const before = renderWorkload(2, undefined, { nic: 'toswitch' }).kernel;
    k.knownSysctls = new Set(Object.keys(before.routerSysctls));
    converge(before, k);
    // One VNI added, and an address added to a link that exists (the first VNI's gateway bridge).
    const after = renderWorkload(3, undefined, { nic: 'toswitch' }).kernel;
    const bridge = after.routerLinks.find((l) => l.type === 'bridge' && l.addresses.length > 0);
    assert.ok(bridge);
    bridge.addresses = [...bridge.addresses, '10.250.0.1/24'];
    const created = after.routerLinks.filter((l) => !before.routerLinks.some((b) => b.name === l.name));
    const d = converge(after, k);
    assert.deepEqual(
      d.steps.map((s) => `${s.role}:${s.kind}`),
      ['router:ip', 'host:ip', 'router:ip'],
    );
    const [routerStep, , late] = d.steps;
    assert.ok(routerStep?.lines.includes(`addr add 10.250.0.1/24 brd + dev ${bridge.name}`));
    const expected = created.flatMap((l) => l.addresses.map((c) => [canonicalCidr(c), l.name] as const));
    assert.ok(expected.length >= 3);
    assert.equal(late?.lines.length, expected.length, late?.lines.join('\n'));
    expected.forEach(([cidr, name], i) => {
      const line = late?.lines[i] ?? '';
      assert.ok(
        line.startsWith(`addr add ${cidr} `) && line.endsWith(` dev ${name}`),
        `${line} vs ${cidr} ${name}`,
      );
    });
  });

  test('actual == desired: zero operations', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const d = diff(fullPlan(), k);
    assert.equal(d.operations, 0);
    assert.deepEqual(d.steps, []);
    assert.deepEqual(d.problems, []);
  });

  test('every golden kernel plan converges in one round from an empty router namespace, then diffs to zero', () => {
    const dir = new URL('../../test/golden/kernel/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const plan = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as KernelPlan;
      const k = new FakeKernel([nic('lo', 1, [])]);
      let i = 10;
      for (const n of plan.underlayInterfaces) k.put(HOST_REF, nic(n, i++, ['192.168.11.2/24']));
      for (const p of plan.externalBridgePorts) {
        k.put(HOST_REF, { ...nic(p.bridge, i++, []), kind: 'bridge' });
      }
      k.knownSysctls = new Set(Object.keys(plan.routerSysctls));
      assert.doesNotThrow(() => converge({ ...plan, routerNamespace: ROUTER }, k), f);
      // External bridges are the user's: only our port is attached.
      for (const p of plan.externalBridgePorts) {
        assert.equal(k.space(HOST_REF).links.get(p.port)?.master, p.bridge, f);
        assert.equal(k.space(HOST_REF).links.get(p.bridge)?.alias, undefined, f);
      }
      // Removing everything brings the NICs back with their addresses and deletes only what we own.
      const empty: KernelPlan = {
        ...plan,
        routerNamespace: ROUTER,
        underlayInterfaces: [],
        loopbackAddresses: [],
        routerLinks: [],
        hostLinks: [],
        externalBridgePorts: [],
      };
      converge(empty, k);
      for (const n of plan.underlayInterfaces) {
        const l = k.space(HOST_REF).links.get(n);
        assert.ok(l, `${f}: ${n} is back`);
        assert.deepEqual(
          l.addresses.filter((a) => a.scope !== 'link').map((a) => a.cidr),
          ['192.168.11.2/24'],
        );
        assert.equal(l.group, 'default');
      }
      assert.deepEqual(
        [...k.space(ROUTER).links.keys()],
        ['lo'],
        `${f}: only lo is left in the router namespace`,
      );
      for (const p of plan.externalBridgePorts) assert.ok(k.space(HOST_REF).links.has(p.bridge), f);
    }
  });

  test('mtu, address, master and mac changes are made in place', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const plan = fullPlan({ mtu: 1400 });
    const pe = plan.routerLinks.find((l) => l.name === 'pe-e-100') as VethLink;
    pe.addresses = ['192.169.10.1/24', 'fd00:10::9/64'];
    const gw = plan.routerLinks.find((l) => l.name === 'br-pe-110');
    assert.ok(gw);
    gw.mac = '00:f3:00:00:00:ff';
    const hs = plan.hostLinks.find((l) => l.name === 'host-e-110');
    assert.ok(hs);
    delete hs.master;
    const d = converge(plan, k);
    const all = lines(d);
    assert.ok(!all.some((l) => /^link (add|del) /.test(l)), `nothing recreated:\n${all.join('\n')}`);
    assert.deepEqual(lines(d, 'host').sort(), [
      'link set dev host-e-100 mtu 1400',
      'link set dev host-e-110 nomaster',
    ]);
    assert.deepEqual(lines(d, 'router').sort(), [
      'addr add fd00:10::9/64 dev pe-e-100',
      'addr del fd00:10::1/64 dev pe-e-100',
      'link set dev br-pe-110 address 00:f3:00:00:00:ff',
      'link set dev pe-e-100 mtu 1400',
      'link set dev vni100 mtu 1400',
    ]);
    // deletions of addresses come before additions
    assert.ok(indexOfLine(all, /^addr del fd00:10::1/) < indexOfLine(all, /^addr add fd00:10::9/));
  });

  test('moving a link into a VRF re-adds its IPv6 addresses after the enslavement (which flushes them)', () => {
    const k = freshKernel();
    const plan = fullPlan();
    plan.routerLinks.splice(1, 0, { type: 'vrf', name: 'blue', addresses: [], table: 1200 });
    converge(plan, k);
    (plan.routerLinks.find((l) => l.name === 'pe-e-100') as VethLink).master = 'blue';
    const d = converge(plan, k);
    assert.deepEqual(lines(d), ['link set dev pe-e-100 master blue', 'addr add fd00:10::1/64 dev pe-e-100']);
  });

  test('a vxlan whose local address changes is deleted and created again; the VTEP on lo follows', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const d = converge(fullPlan({ local: '100.65.0.9' }), k);
    const router = lines(d, 'router');
    assert.deepEqual(lines(d, 'host'), []);
    for (const vni of [100, 110]) {
      const del = indexOfLine(router, new RegExp(`^link del dev vni${vni}$`));
      const add = indexOfLine(
        router,
        new RegExp(`^link add vni${vni} .* up type vxlan .*local 100\\.65\\.0\\.9 `),
      );
      assert.ok(del < add);
      assert.ok(
        add < indexOfLine(router, new RegExp(`^link set dev vni${vni} type bridge_slave neigh_suppress on$`)),
      );
    }
    assert.ok(router.includes('addr del 100.65.0.1/32 dev lo'));
    assert.ok(router.includes('addr add 100.65.0.9/32 dev lo'));
    assert.ok(!router.some((l) => /^link (add|del) (dev )?(br-pe|pe-e|red)/.test(l)), router.join('\n'));
  });

  test('a VRF whose table changes is recreated and its slaves are enslaved again, IPv6 included', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const d = converge(fullPlan({ table: 1300 }), k);
    const router = lines(d, 'router');
    assert.equal(router[0], 'link del dev red');
    assert.equal(router[1], 'link add red up type vrf table 1300');
    assert.ok(router.includes('link set dev pe-e-100 master red'));
    assert.ok(
      indexOfLine(router, /pe-e-100 master red/) <
        indexOfLine(router, /^addr add fd00:10::1\/64 dev pe-e-100/),
    );
    assert.ok(router.includes('addr add fd00:110::1/64 dev br-pe-110'));
    assert.ok(!router.includes('addr add 192.169.10.1/24 brd + dev pe-e-100'), 'IPv4 survives the release');
  });

  test('a wrong link type is replaced; a removed VNI is deleted slaves first, its veth pair once', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const plan = fullPlan();
    const l2 = l2Links(120);
    plan.routerLinks.push(...l2.router);
    plan.hostLinks.push(...l2.host);
    // someone made vni120 a bridge
    k.run([{ role: 'router', kind: 'ip', lines: ['link add vni120 type bridge'] }]);
    let d = converge(plan, k);
    assert.ok(
      indexOfLine(lines(d), /^link del dev vni120$/) < indexOfLine(lines(d), /^link add vni120 .*type vxlan/),
    );
    d = converge(fullPlan(), k);
    assert.deepEqual(lines(d, 'host'), ['link del dev host-e-120', 'link del dev br-hs-120']);
    assert.deepEqual(lines(d, 'router'), ['link del dev vni120', 'link del dev br-pe-120']);
  });

  test('links the agent does not own are never touched; a planned name taken by one is a problem', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    // A user's veth with one of our names but without our alias, a user's bridge, a physical NIC.
    k.put(HOST_REF, { ...nic('host-e-999', 50, ['10.9.9.9/24']), kind: 'veth' });
    k.put(HOST_REF, { ...nic('br-hs-5', 51, []), kind: 'bridge' });
    k.put(HOST_REF, { ...nic('host-e-120', 52, []), kind: 'bridge' });
    const plan = fullPlan();
    const l2 = l2Links(120);
    plan.routerLinks.push(...l2.router);
    plan.hostLinks.push(...l2.host);
    const d = diff(plan, k);
    const all = lines(d);
    for (const name of ['host-e-999', 'br-hs-5', 'eth0', 'host-e-120', 'pe-e-120']) {
      assert.ok(
        !all.some((l) => l.includes(` ${name} `) || l.endsWith(` ${name}`)),
        `${name} untouched:\n${all.join('\n')}`,
      );
    }
    assert.equal(d.problems.length, 1);
    assert.match(
      d.problems[0] ?? '',
      /host namespace: host-e-120 is planned but a bridge named so already exists/,
    );
    // The rest of the VNI is still built.
    assert.ok(all.some((l) => l.startsWith('link add vni120 ')));
    assert.ok(all.some((l) => l.startsWith('link add br-hs-120 ')));

    // A planned managed bridge whose name a user's bridge has: our veth is not plugged into it.
    k.put(HOST_REF, { ...nic('br-hs-121', 53, []), kind: 'bridge' });
    const l2b = l2Links(121);
    plan.routerLinks.push(...l2b.router);
    plan.hostLinks.push(...l2b.host);
    const d2 = diff(plan, k);
    assert.ok(
      lines(d2, 'router').includes(
        `link add pe-e-121 mtu 1450 master br-pe-121 up type veth peer name host-e-121 mtu 1450 netns ${HOST_REF}`,
      ),
      lines(d2, 'router').join('\n'),
    );
    assert.ok(lines(d2, 'host').includes(`link set dev host-e-121 alias ${OWNER_ALIAS} up`));
    assert.ok(!lines(d2).some((l) => / br-hs-121( |$)/.test(l)), lines(d2).join('\n'));
    assert.match(
      d2.problems.join('\n'),
      /host namespace: br-hs-121 is planned but a bridge named so already exists/,
    );
  });

  test('a host veth paired with the planned router end is adopted (upstream-made), not recreated', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const h = k.space(HOST_REF).links.get('host-e-100');
    assert.ok(h);
    delete h.alias;
    const d = converge(fullPlan(), k);
    assert.deepEqual(lines(d), [`link set dev host-e-100 alias ${OWNER_ALIAS}`]);
  });

  test('an external bridge port: attached when planned, detached (never deleted) when not', () => {
    const k = freshKernel();
    k.put(HOST_REF, { ...nic('br-user', 60, []), kind: 'bridge' });
    const plan = fullPlan();
    const hs = plan.hostLinks.find((l) => l.name === 'host-e-110');
    assert.ok(hs);
    delete hs.master;
    plan.hostLinks = plan.hostLinks.filter((l) => l.name !== 'br-hs-110');
    plan.externalBridgePorts = [{ bridge: 'br-user', port: 'host-e-110' }];
    let d = converge(plan, k);
    assert.ok(lines(d, 'host').includes(`link set dev host-e-110 master br-user alias ${OWNER_ALIAS} up`));
    assert.equal(k.space(HOST_REF).links.get('host-e-110')?.master, 'br-user');
    plan.externalBridgePorts = [];
    d = converge(plan, k);
    assert.deepEqual(lines(d), ['link set dev host-e-110 nomaster']);
    // The whole VNI goes: our port is deleted, the user's bridge stays.
    plan.hostLinks = plan.hostLinks.filter((l) => l.name !== 'host-e-110');
    plan.routerLinks = plan.routerLinks.filter((l) => !['br-pe-110', 'vni110', 'pe-e-110'].includes(l.name));
    d = converge(plan, k);
    assert.ok(!lines(d).some((l) => l.includes('br-user')));
    assert.ok(k.space(HOST_REF).links.has('br-user'));
    // A missing external bridge is a problem, not an operation.
    plan.hostLinks.push(veth('host-e-130', 'pe-e-130', 'router'));
    plan.routerLinks.push(veth('pe-e-130', 'host-e-130', 'host'));
    plan.externalBridgePorts = [{ bridge: 'br-gone', port: 'host-e-130' }];
    d = diff(plan, k);
    assert.match(
      d.problems.join(),
      /host-e-130 should be enslaved to br-gone, which does not exist \(a bridge the user owns\)/,
    );
  });

  test('an underlay NIC no longer planned goes back to the host with its addresses', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const eth1 = k.space(ROUTER).links.get('eth1');
    assert.deepEqual(eth1?.group, UNDERLAY_GROUP);
    const plan = { ...fullPlan(), underlayInterfaces: [] };
    const d = converge(plan, k);
    assert.deepEqual(lines(d, 'router'), [`link set dev eth1 netns ${HOST_REF}`]);
    assert.deepEqual(d.steps.at(-1), {
      role: 'host',
      kind: 'ip',
      lines: [
        'link set dev eth1 group default',
        'addr add 192.168.11.2/24 dev eth1',
        'addr add fd00:11::2/64 dev eth1',
        'link set dev eth1 up',
      ],
    });
    const back = k.space(HOST_REF).links.get('eth1');
    assert.equal(back?.mtu, 9000);
  });

  test('a NIC whose move was interrupted gets the addresses remembered from before the move', () => {
    const k = freshKernel();
    k.run([{ role: 'router', kind: 'netns', lines: ['netns add'] }]);
    const first = diff(fullPlan(), k);
    // Only the move went through.
    k.run([
      { role: 'host', kind: 'ip', lines: [`link set dev eth1 group ${UNDERLAY_GROUP} netns ${ROUTER}`] },
    ]);
    const d = diffKernel(fullPlan(), k.state(), {
      hostNetnsRef: HOST_REF,
      underlayAddresses: first.underlayAddresses,
    });
    assert.deepEqual(lines(d, 'router').slice(0, 3), [
      'addr add 192.168.11.2/24 dev eth1',
      'addr add fd00:11::2/64 dev eth1',
      'link set dev eth1 up',
    ]);
  });

  test('a missing underlay NIC and a sysctl the kernel lacks are reported, not written', () => {
    const k = new FakeKernel([nic('lo', 1, [])]);
    k.knownSysctls = new Set(['net.ipv4.conf.all.forwarding']);
    const plan = { ...fullPlan(), routerSysctls: { ...SYSCTLS, 'net.vrf.strict_mode': '1' } };
    k.run([diff(plan, k).steps[0] as Step]);
    const d = diff(plan, k);
    assert.deepEqual(d.steps[0], {
      role: 'router',
      kind: 'sysctl',
      lines: ['net.ipv4.conf.all.forwarding=1'],
    });
    assert.deepEqual(d.warnings, [
      'sysctl net.ipv6.conf.all.forwarding does not exist in this kernel; not set',
      `sysctl ${DEFAULT_MODE} does not exist in this kernel; not set`,
      'sysctl net.vrf.strict_mode does not exist in this kernel; not set',
    ]);
    assert.deepEqual(d.problems, [
      'underlay interface eth1 exists neither in the host nor in the router namespace',
    ]);
  });

  test('loopback: stale host-prefix addresses go, 127.0.0.1 and ::1 stay', () => {
    const k = freshKernel();
    converge(fullPlan(), k);
    const lo = k.space(ROUTER).links.get('lo');
    assert.ok(lo);
    lo.addresses.push(
      addr('127.0.0.1/8', { scope: 'host' }),
      addr('::1/128', { scope: 'host' }),
      addr('100.65.0.7/32'),
    );
    const d = converge(fullPlan(), k);
    assert.deepEqual(lines(d), ['addr del 100.65.0.7/32 dev lo']);
  });

  test('an inconsistent plan is refused', () => {
    const plan = fullPlan();
    plan.hostLinks = plan.hostLinks.filter((l) => l.name !== 'pt-host');
    assert.throws(() => diff(plan, freshKernel()), KernelPlanError);
  });
});

describe('parsers and writers', () => {
  test('parseBatchDump reads kinds, ports, veth peers, addresses', () => {
    const links = [
      {
        ifindex: 1,
        ifname: 'lo',
        flags: ['LOOPBACK', 'UP'],
        mtu: 65536,
        group: 'default',
        address: '00:00:00:00:00:00',
      },
      {
        ifindex: 3,
        ifname: 'vni100',
        flags: ['BROADCAST', 'UP'],
        mtu: 1450,
        master: 'br-pe-100',
        group: 'default',
        address: 'C2:71:EF:29:CF:B8',
        inet6_addr_gen_mode: 'none',
        ifalias: 'openperouter',
        linkinfo: {
          info_kind: 'vxlan',
          info_data: { id: 100, local6: 'fd00:0::1', port: 4789, learning: false },
          info_slave_kind: 'bridge',
          info_slave_data: { neigh_suppress: true },
        },
      },
      {
        ifindex: 4,
        link_index: 2,
        ifname: 'pe-e-100',
        flags: [],
        mtu: 1450,
        group: '4242',
        link_netnsid: 0,
        linkinfo: { info_kind: 'veth' },
      },
      {
        ifindex: 5,
        ifname: 'red',
        flags: [],
        mtu: 65575,
        group: 'default',
        linkinfo: { info_kind: 'vrf', info_data: { table: 1100 } },
      },
    ];
    const addrs = [
      {
        ifindex: 1,
        addr_info: [
          { family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' },
          { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' },
        ],
      },
      {
        ifindex: 4,
        addr_info: [
          { family: 'inet', local: '10.0.0.1', prefixlen: 24, broadcast: '10.0.0.255', scope: 'global' },
          { family: 'inet6', local: 'FD00:0:0::1', prefixlen: 64, scope: 'global', dynamic: true },
        ],
      },
    ];
    const ns = parseBatchDump(`${JSON.stringify(links)}\n${JSON.stringify(addrs)}\n`);
    const [lo, vx, pe, red] = ns.links;
    assert.deepEqual(
      lo?.addresses.map((a) => [a.cidr, a.scope]),
      [
        ['127.0.0.1/8', 'host'],
        ['::1/128', 'host'],
      ],
    );
    assert.equal(lo?.kind, undefined);
    assert.deepEqual(vx?.vxlan, { id: 100, local: 'fd00::1', port: 4789, learning: false });
    assert.deepEqual(vx?.bridgePort, { neighSuppress: true });
    assert.equal(vx?.mac, 'c2:71:ef:29:cf:b8');
    assert.equal(vx?.alias, 'openperouter');
    assert.equal(vx?.addrGenMode, 'none');
    assert.equal(vx?.up, true);
    assert.deepEqual(pe?.peer, { index: 2, netnsId: 0 });
    assert.equal(pe?.group, '4242');
    assert.deepEqual(pe?.addresses, [
      { cidr: '10.0.0.1/24', family: 4, scope: 'global', broadcast: '10.0.0.255', dynamic: false },
      { cidr: 'fd00::1/64', family: 6, scope: 'global', dynamic: true },
    ]);
    assert.equal(red?.vrfTable, 1100);
    assert.throws(() => parseBatchDump('{}\n[]\n'), /expected 2 JSON dumps from iproute2, got 1/);
  });

  test('parseBatchDump reads the two dumps a batch prints after its (silent) writes', () => {
    const links = [{ ifindex: 1, ifname: 'lo', flags: ['UP'], mtu: 65536, inet6_addr_gen_mode: 'eui64' }];
    const addrs = [
      { ifindex: 1, addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    ];
    const ns = parseBatchDump(`${JSON.stringify(links)}\n${JSON.stringify(addrs)}\n`);
    assert.equal(ns.links[0]?.addrGenMode, 'eui64');
    assert.deepEqual(
      ns.links[0]?.addresses.map((a) => a.cidr),
      ['127.0.0.1/8'],
    );
    assert.throws(() => parseBatchDump(`${JSON.stringify(links)}\n`), /expected 2 JSON dumps/);
  });

  test('verificationPlan: a part is dumped by its last writer unless a later step can change it', () => {
    const step = (role: 'host' | 'router', kind: Step['kind'], ...l: string[]): Step => ({
      role,
      kind,
      lines: l,
    });
    // One VNI added: the router creates the pairs (changing the host), the host step comes last.
    assert.deepEqual(
      verificationPlan([
        step(
          'router',
          'ip',
          'link add b1 up type vrf table 1',
          `link add pe-e-1 up type veth peer name host-e-1 netns ${HOST_REF}`,
        ),
        step('host', 'ip', 'link set dev host-e-1 alias openperouter up'),
      ]),
      { host: 1, router: 0, sysctl: undefined },
    );
    // A cold apply: sysctls dumped by their writer; the NIC moves first.
    assert.deepEqual(
      verificationPlan([
        step('router', 'sysctl', 'net.ipv4.conf.all.forwarding=1'),
        step('host', 'ip', `link set dev eth1 group 4242 netns ${ROUTER}`),
        step('router', 'ip', 'link set dev eth1 up'),
        step('host', 'ip', 'link set dev host-e-1 alias openperouter up'),
      ]),
      { host: 3, router: 2, sysctl: 0 },
    );
    // A VNI removed: the host step deletes the host end after... nothing; the router deletes after it,
    // which changes the host (a veth end's peer goes too): the host is read on its own.
    assert.deepEqual(
      verificationPlan([
        step('host', 'ip', 'link del dev br-hs-1'),
        step('router', 'ip', 'link del dev pe-e-1'),
      ]),
      { host: -1, router: 1, sysctl: undefined },
    );
    // The router namespace untouched: its earlier read stays valid.
    assert.deepEqual(verificationPlan([step('host', 'ip', 'addr add 10.0.0.1/24 dev host-e-1')]), {
      host: 0,
      router: undefined,
      sysctl: undefined,
    });
  });

  test('sysctl dump and script', () => {
    assert.deepEqual(
      parseSysctlDump(
        '/proc/sys/net/ipv4/conf/all/forwarding:1\n/proc/sys/net/ipv4/tcp_rmem:4096\t131072\t6291456\n',
        ['net.ipv4.conf.all.forwarding', 'net.ipv4.tcp_rmem', 'net.vrf.strict_mode'],
      ),
      {
        'net.ipv4.conf.all.forwarding': '1',
        'net.ipv4.tcp_rmem': '4096\t131072\t6291456',
        'net.vrf.strict_mode': undefined,
      },
    );
    assert.equal(
      sysctlScript(['net.vrf.strict_mode=1', "weird.key=it's"]),
      "set -e\n[ ! -e '/proc/sys/net/vrf/strict_mode' ] || printf '%s\\n' '1' > '/proc/sys/net/vrf/strict_mode'\n" +
        "[ ! -e '/proc/sys/weird/key' ] || printf '%s\\n' 'it'\\''s' > '/proc/sys/weird/key'",
    );
    // The values read back after the writes, as readSysctls prints them.
    assert.match(
      sysctlScript(['net.vrf.strict_mode=1'], ['net.vrf.strict_mode', 'net.ipv4.conf.all.forwarding']),
      /\n'grep' '-sH' '' '\/proc\/sys\/net\/vrf\/strict_mode' '\/proc\/sys\/net\/ipv4\/conf\/all\/forwarding' \|\| \[ \$\? -le 2 \]$/,
    );
  });

  test('batchError names the failing line', () => {
    assert.equal(
      batchError(
        ['link add a type bridge', 'link add b type bridge'],
        'RTNETLINK answers: File exists\nCommand failed -:2\n',
      ),
      '"link add b type bridge": RTNETLINK answers: File exists',
    );
    assert.equal(
      batchError(['x'], 'Error: any valid prefix is expected.\n'),
      'Error: any valid prefix is expected.',
    );
  });
});
