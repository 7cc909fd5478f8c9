// Pure differ: the desired KernelPlan and the actual state (as read.ts reports it) in, the ordered
// write steps that turn one into the other out. No I/O: everything it needs is in its arguments.
//
// Steps run in this order; an empty step is left out, so a steady state yields none at all:
//   1. netns   create the router namespace
//   2. sysctl  router namespace sysctls that differ (before any link: strict_mode, `default.*`)
//   3. ip host (pre)  underlay NICs moved into the router namespace; stale host links deleted (also
//               the host end of a broken veth pair, whose name the new pair needs)
//   4. ip router  underlay NICs re-addressed or moved back; `lo`; stale links deleted (slaves first);
//               links created (masters first; veth pairs are created here, their host end straight
//               into the host namespace) and updated
//   5. ip host  host links created and updated (alias, addresses, up of the veth host ends);
//               addresses of the underlay NICs moved back to the host
// The differ simulates every operation on a copy of the actual state, so a later decision sees the
// effect of an earlier one (a deleted veth takes its peer along, a deleted master releases its ports,
// a VRF enslavement flushes IPv6 addresses).
//
// Ownership: in the router namespace every vrf/bridge/vxlan/veth link is the agent's, except the
// underlay NICs (listed in the plan or in link group 4242): router links carry no alias (one set by an
// older version is left alone). In the host namespace only links carrying the alias `openperouter`
// are, plus a veth whose other end is the planned router end (adopted).
// Anything else is never modified or deleted: a planned name taken by such a link is a problem.

import type { KernelPlan, LinkSpec, VethLink } from './model.js';
import type { ActualAddress, ActualLink, ActualState } from './read.js';
import { canonicalCidr } from './read.js';

/** ifalias the agent puts on every host link it creates: the proof of ownership in the host namespace. */
export const OWNER_ALIAS = 'openperouter';
/** Link group of the underlay NICs moved into the router namespace (as upstream). */
export const UNDERLAY_GROUP = '4242';
/** Kinds of links the agent creates, and so the only kinds it deletes. */
const MANAGED_KINDS: ReadonlySet<string> = new Set(['vrf', 'bridge', 'vxlan', 'veth']);

export type Role = 'host' | 'router';

export interface Step {
  role: Role;
  /** `netns`: `ip netns add`; `sysctl`: `key=value` lines; `ip`: one `ip -batch` of the lines. */
  kind: 'netns' | 'sysctl' | 'ip';
  lines: string[];
}

export interface DiffContext {
  /**
   * How a command running in the router namespace names the host namespace (`netns X`): a named
   * namespace, or a path such as `/proc/<pid>/ns/net` for the process's own.
   */
  hostNetnsRef: string;
  /**
   * Addresses of underlay NICs read before an interrupted move (a NIC loses its addresses when it
   * changes namespace), by NIC name: re-added where missing.
   */
  underlayAddresses?: Readonly<Record<string, readonly ActualAddress[]>>;
}

export interface KernelDiff {
  steps: Step[];
  /** Number of write operations: the lines of all steps. 0 = the state equals the plan. */
  operations: number;
  /** What the agent cannot fix by itself (a planned name taken by a foreign link, a missing NIC...). */
  problems: string[];
  /** Harmless deviations (a sysctl this kernel does not have). */
  warnings: string[];
  /** Addresses of the underlay NICs this diff moves, for a retry after an interrupted move. */
  underlayAddresses: Record<string, ActualAddress[]>;
}

export class KernelPlanError extends Error {
  override name = 'KernelPlanError';
}

interface SimLink extends ActualLink {
  addresses: ActualAddress[];
}

class SimNamespace {
  readonly links = new Map<string, SimLink>();
  constructor(
    readonly role: Role,
    links: readonly ActualLink[],
  ) {
    for (const l of links) this.links.set(l.name, structuredClone(l));
  }
  get(name: string): SimLink | undefined {
    return this.links.get(name);
  }
  /** Number of masters above the link (for slaves-before-masters deletion). */
  depth(link: SimLink): number {
    let depth = 0;
    let master = link.master;
    const seen = new Set<string>();
    while (master !== undefined && !seen.has(master)) {
      seen.add(master);
      depth++;
      master = this.links.get(master)?.master;
    }
    return depth;
  }
}

let fakeIndex = -1;
/** Index of a link the simulation creates; negative, so it never matches a real one. */
function newIndex(): number {
  fakeIndex -= 1;
  return fakeIndex;
}

function describeLink(l: ActualLink): string {
  return l.kind === undefined ? 'a device' : `a ${l.kind}`;
}

function isVrf(ns: SimNamespace, name: string | undefined): boolean {
  return name !== undefined && ns.get(name)?.kind === 'vrf';
}

function ipv4(cidr: string): boolean {
  return !cidr.includes(':');
}

/** Arguments of `addr add` re-creating an address read from the kernel. */
function addressArgs(a: ActualAddress): string {
  const [local] = a.cidr.split('/');
  const prefix = a.cidr.slice(a.cidr.indexOf('/') + 1);
  if (a.peer !== undefined) return `${local} peer ${a.peer}/${prefix}`;
  if (a.broadcast !== undefined && a.family === 4) return `${a.cidr} brd ${a.broadcast}`;
  return a.cidr;
}

/** Arguments of `addr add` for a planned address (IPv4 gets its broadcast address, as `brd +`). */
function plannedAddressArgs(cidr: string): string {
  if (!ipv4(cidr)) return cidr;
  const prefix = Number(cidr.slice(cidr.indexOf('/') + 1));
  return prefix <= 30 ? `${cidr} brd +` : cidr;
}

/** Addresses an underlay NIC takes along when it changes namespace (link-local ones come back by themselves). */
function portableAddresses(link: ActualLink): ActualAddress[] {
  return link.addresses.filter((a) => !(a.family === 6 && a.scope === 'link'));
}

/** Addresses the agent compares with the plan: not link-local, not kernel-managed (SLAAC). */
function managedAddresses(link: ActualLink): ActualAddress[] {
  return link.addresses.filter((a) => a.scope !== 'link' && !(a.family === 6 && a.dynamic));
}

/** `inet6_addr_gen_mode` names by sysctl value (`net.ipv6.conf.*.addr_gen_mode`). */
const ADDR_GEN_MODES: readonly string[] = ['eui64', 'none', 'stable_secret', 'random'];
/** Sysctl giving the IPv6 address generation mode of links created in (or moved into) a namespace. */
export const DEFAULT_ADDR_GEN_MODE = 'net.ipv6.conf.default.addr_gen_mode';

/** The address generation mode a link must have: `none` (no link-local), `eui64`, or undefined (any). */
function wantedMode(spec: LinkSpec): 'none' | 'eui64' | undefined {
  if (spec.noIpv6LinkLocal === true) return 'none';
  return spec.noIpv6LinkLocal === false ? 'eui64' : undefined;
}

/** Whether a link with address generation mode `mode` is as wanted (only `none` or not matters). */
function modeMatches(want: string | undefined, mode: string | undefined): boolean {
  return want === undefined || mode === undefined || (want === 'none') === (mode === 'none');
}

function validatePlan(plan: KernelPlan): void {
  const byRole: Record<Role, Map<string, LinkSpec>> = { host: new Map(), router: new Map() };
  for (const [role, links] of [
    ['host', plan.hostLinks],
    ['router', plan.routerLinks],
  ] as const) {
    for (const l of links) {
      if (byRole[role].has(l.name))
        throw new KernelPlanError(`${role} namespace: link ${l.name} is planned twice`);
      byRole[role].set(l.name, l);
    }
  }
  for (const [role, links] of [
    ['host', plan.hostLinks],
    ['router', plan.routerLinks],
  ] as const) {
    for (const l of links) {
      if (l.type !== 'veth') continue;
      const peer = byRole[l.peer.namespace].get(l.peer.name);
      if (peer?.type !== 'veth' || peer.peer.name !== l.name || peer.peer.namespace !== role) {
        throw new KernelPlanError(
          `${role} namespace: veth ${l.name} names peer ${l.peer.name} in the ${l.peer.namespace} namespace, ` +
            'which is not planned as its other end',
        );
      }
    }
  }
  for (const nic of plan.underlayInterfaces) {
    if (byRole.router.has(nic)) {
      throw new KernelPlanError(`router namespace: underlay interface ${nic} is also a planned link`);
    }
  }
}

/** Lines of the `ip` steps, and what the differ could not fix. */
class Emitter {
  readonly hostPre: string[] = [];
  readonly host: string[] = [];
  readonly router: string[] = [];
  readonly hostPost: string[] = [];
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  problem(message: string): void {
    if (!this.problems.includes(message)) this.problems.push(message);
  }
}

/*
 * LATE_ADDRESSES: the `addr add` lines of the router links this diff creates run in a process of their
 * own, after the router step and after the host step. Why: FRR 8.4's zebra reads link events on its
 * main thread and address events on its dataplane thread (two netlink sockets); an address that reaches
 * zebra before the link it belongs to is dropped for good ("zebra_if_dplane_result: can't find ifp"),
 * and the BGP session over that link never comes up. Measured in UML: with the addresses in the creating
 * batch zebra lost some of three new links' addresses in at least 10 runs of 12; in a process of their
 * own, in none of 6, but still now and then in the loaded lab guest: the host step goes in between for
 * more time (kernel/README.md). It narrows the race, it cannot close it: FRR 9+ reads both on one
 * socket, in order. Moving them last is safe: they still follow the links' enslavement (which would
 * flush IPv6 addresses), and nothing in the host step needs them.
 */

/** The step creating the router namespace (`ip netns add`). */
export function routerNamespaceStep(plan: KernelPlan): Step {
  return { role: 'router', kind: 'netns', lines: [`netns add ${plan.routerNamespace}`] };
}

export function diffKernel(plan: KernelPlan, actual: ActualState, ctx: DiffContext): KernelDiff {
  validatePlan(plan);
  const out = new Emitter();
  const steps: Step[] = [];
  const routerExists = actual.router !== undefined;
  if (!routerExists) steps.push(routerNamespaceStep(plan));

  // Sysctls first: net.vrf.strict_mode must hold before a VRF is created, `default.*` before any link.
  const sysctlLines: string[] = [];
  for (const [key, value] of Object.entries(plan.routerSysctls)) {
    const have = actual.routerSysctls[key];
    if (routerExists && have === undefined) {
      out.warnings.push(`sysctl ${key} does not exist in this kernel; not set`);
      continue;
    }
    if (have === undefined || have.trim().split(/\s+/).join(' ') !== value.trim().split(/\s+/).join(' ')) {
      sysctlLines.push(`${key}=${value}`);
    }
  }
  if (sysctlLines.length > 0) steps.push({ role: 'router', kind: 'sysctl', lines: sysctlLines });

  // Links created in the router namespace (or moved into it) get its default address generation mode:
  // the planned one, as the sysctl step runs before any link is created.
  const haveDefault = routerExists ? actual.routerSysctls[DEFAULT_ADDR_GEN_MODE] : '0';
  const routerDefault =
    haveDefault === undefined ? undefined : (plan.routerSysctls[DEFAULT_ADDR_GEN_MODE] ?? haveDefault);
  const birthMode = (ns: SimNamespace): string =>
    ns.role === 'router' ? (ADDR_GEN_MODES[Number(routerDefault?.trim())] ?? 'eui64') : 'eui64';

  const host = new SimNamespace('host', actual.host.links);
  const router = new SimNamespace(
    'router',
    actual.router?.links ?? [
      {
        index: 1,
        name: 'lo',
        up: false,
        mtu: 65536,
        group: 'default',
        addrGenMode: 'eui64',
        addresses: [],
      },
    ],
  );
  const other = (ns: SimNamespace): SimNamespace => (ns.role === 'host' ? router : host);
  const desired: Record<Role, Map<string, LinkSpec>> = {
    host: new Map(plan.hostLinks.map((l) => [l.name, l])),
    router: new Map(plan.routerLinks.map((l) => [l.name, l])),
  };
  const underlay = new Set(plan.underlayInterfaces);
  const externalMaster = new Map(plan.externalBridgePorts.map((p) => [p.port, p.bridge]));
  const adopted = new Set<string>();
  const blocked: Record<Role, Set<string>> = { host: new Set(), router: new Set() };
  /** Planned names taken by links that are not ours: never used as a master either. */
  const foreign: Record<Role, Set<string>> = { host: new Set(), router: new Set() };
  const underlayAddresses: Record<string, ActualAddress[]> = {};

  const isUnderlay = (l: ActualLink): boolean => underlay.has(l.name) || l.group === UNDERLAY_GROUP;
  const owned = (ns: SimNamespace, l: ActualLink): boolean => {
    if (ns.role === 'router') {
      return l.name !== 'lo' && !isUnderlay(l) && l.kind !== undefined && MANAGED_KINDS.has(l.kind);
    }
    return l.alias === OWNER_ALIAS || adopted.has(l.name);
  };
  const notOurs = (ns: SimNamespace, l: ActualLink): string =>
    `${ns.role} namespace: ${l.name} is planned but ${describeLink(l)} named so already exists and is not ` +
    `managed by openperouter${ns.role === 'host' ? ` (no alias "${OWNER_ALIAS}")` : ''}; rename or delete it`;

  /** The other end of a veth, if the simulation knows it. */
  const vethPeer = (ns: SimNamespace, l: SimLink): { ns: SimNamespace; link: SimLink } | undefined => {
    if (l.kind !== 'veth' || l.peer === undefined) return undefined;
    if (l.peer.netnsId === undefined && l.peer.name !== undefined) {
      const p = ns.get(l.peer.name);
      return p?.kind === 'veth' && p.peer?.name === l.name ? { ns, link: p } : undefined;
    }
    if (l.peer.netnsId !== undefined && l.peer.index !== undefined) {
      const o = other(ns);
      for (const p of o.links.values()) {
        if (
          p.kind === 'veth' &&
          p.index === l.peer.index &&
          p.peer?.index === l.index &&
          p.peer.netnsId !== undefined
        ) {
          return { ns: o, link: p };
        }
      }
    }
    return undefined;
  };

  /** Removes a link from the simulation with what the kernel does along: peer gone, ports released. */
  const forget = (ns: SimNamespace, l: SimLink): void => {
    const peer = vethPeer(ns, l);
    ns.links.delete(l.name);
    if (peer !== undefined) forget(peer.ns, peer.link);
    for (const s of ns.links.values()) {
      if (s.master !== l.name) continue;
      delete s.master;
      delete s.bridgePort;
      // Leaving a VRF cycles a running port, which flushes its IPv6 addresses.
      if (l.kind === 'vrf' && s.up) s.addresses = s.addresses.filter((a) => a.family === 4);
    }
  };

  const del = (ns: SimNamespace, lines: string[], l: SimLink): void => {
    lines.push(`link del dev ${l.name}`);
    forget(ns, l);
  };

  /** Deletes links slaves first (a master's ports are gone or released before it goes). */
  const deleteAll = (ns: SimNamespace, lines: string[], links: SimLink[]): void => {
    const order = links
      .map((l, i) => ({ l, i, depth: ns.depth(l) }))
      .sort((a, b) => b.depth - a.depth || a.i - b.i);
    for (const { l } of order) if (ns.get(l.name) === l) del(ns, lines, l);
  };

  const desiredMaster = (ns: SimNamespace, spec: LinkSpec): string | undefined =>
    spec.master ?? (ns.role === 'host' ? externalMaster.get(spec.name) : undefined);

  /** Why an existing link must be replaced rather than changed in place, or undefined. */
  const mustRecreate = (ns: SimNamespace, spec: LinkSpec, l: SimLink): string | undefined => {
    if (l.kind !== spec.type) return `is ${describeLink(l)}, planned ${spec.type}`;
    if (spec.type === 'vrf' && l.vrfTable !== spec.table) return `table ${l.vrfTable} -> ${spec.table}`;
    if (spec.type === 'vxlan') {
      const v = l.vxlan;
      if (
        v === undefined ||
        v.id !== spec.vni ||
        v.local !== canonicalCidr(spec.local) ||
        v.port !== spec.dstport ||
        v.learning !== spec.learning
      ) {
        return 'vxlan id/local/port/learning differ';
      }
    }
    if (spec.type === 'veth') {
      const peer = vethPeer(ns, l);
      if (peer === undefined || peer.link.name !== spec.peer.name || peer.ns.role !== spec.peer.namespace) {
        return 'veth peer differs';
      }
    }
    return undefined;
  };

  const addLink = (ns: SimNamespace, spec: LinkSpec, master: string | undefined): SimLink => {
    const l: SimLink = {
      index: newIndex(),
      name: spec.name,
      kind: spec.type,
      up: false,
      mtu: spec.mtu ?? 1500,
      group: 'default',
      addrGenMode: birthMode(ns),
      addresses: [],
    };
    if (spec.mac !== undefined) l.mac = spec.mac.toLowerCase();
    if (master !== undefined) {
      l.master = master;
      if (ns.get(master)?.kind === 'bridge') l.bridgePort = { neighSuppress: false };
    }
    if (spec.type === 'vrf') l.vrfTable = spec.table;
    if (spec.type === 'vxlan') {
      l.vxlan = {
        id: spec.vni,
        local: canonicalCidr(spec.local),
        port: spec.dstport,
        learning: spec.learning,
      };
    }
    ns.links.set(l.name, l);
    return l;
  };

  /** Common `link add` attributes of a planned link. */
  const linkAttrs = (spec: LinkSpec, master: string | undefined, up = false): string => {
    const attrs: string[] = [];
    if (spec.mac !== undefined) attrs.push(`address ${spec.mac.toLowerCase()}`);
    if (spec.mtu !== undefined) attrs.push(`mtu ${spec.mtu}`);
    if (master !== undefined) attrs.push(`master ${master}`);
    if (up) attrs.push('up');
    return attrs.length === 0 ? '' : ` ${attrs.join(' ')}`;
  };

  /** A master given at creation only when it already exists (it always does for a valid plan). */
  const creationMaster = (ns: SimNamespace, spec: LinkSpec): string | undefined => {
    const m = desiredMaster(ns, spec);
    return m !== undefined && ns.get(m) !== undefined && !foreign[ns.role].has(m) ? m : undefined;
  };

  /** Creates a planned link (a veth together with its planned peer). */
  const create = (ns: SimNamespace, lines: string[], spec: LinkSpec): void => {
    const master = creationMaster(ns, spec);
    const born = birthMode(ns);
    const want = wantedMode(spec);
    const crossVeth = spec.type === 'veth' && spec.peer.namespace !== ns.role;
    // In the router namespace a link comes up on its creation line (the kernel applies the flags of a
    // new link before its master) unless its address generation mode must change first: a link-local
    // address is made when the link first has a carrier, with the mode it has then. A veth pair's other
    // end is always created down (the kernel refuses `up` on a peer), so the first end has no carrier
    // until the host step brings the other up: its mode can still be set on the next line.
    const up = ns.role === 'router' && (spec.type === 'vrf' || crossVeth || modeMatches(want, born));
    const setMode = crossVeth && up && !modeMatches(want, born);
    const head = `link add ${spec.name}${linkAttrs(spec, master, up)}`;
    const created = (l: SimLink): void => {
      l.up = up;
      if (setMode && want !== undefined) {
        lines.push(`link set dev ${spec.name} addrgenmode ${want}`);
        l.addrGenMode = want;
      }
    };
    switch (spec.type) {
      case 'vrf':
        lines.push(`${head} type vrf table ${spec.table}`);
        break;
      case 'bridge':
        lines.push(`${head} type bridge`);
        break;
      case 'vxlan':
        lines.push(
          `${head} type vxlan id ${spec.vni} local ${spec.local} dstport ${spec.dstport}` +
            (spec.learning ? ' learning' : ' nolearning'),
        );
        break;
      case 'veth': {
        const peerNs = spec.peer.namespace === ns.role ? ns : other(ns);
        const peerSpec = desired[peerNs.role].get(spec.peer.name) as VethLink;
        const netns =
          peerNs === ns ? '' : ` netns ${peerNs.role === 'router' ? plan.routerNamespace : ctx.hostNetnsRef}`;
        lines.push(`${head} type veth peer name ${peerSpec.name}${linkAttrs(peerSpec, undefined)}${netns}`);
        const a = addLink(ns, spec, master);
        const b = addLink(peerNs, peerSpec, undefined);
        a.peer = peerNs === ns ? { name: b.name } : { index: b.index, netnsId: 0 };
        b.peer = peerNs === ns ? { name: a.name } : { index: a.index, netnsId: 0 };
        // The host end of a pair the agent creates is its own before the alias is set on it.
        if (peerNs.role === 'host') adopted.add(b.name);
        created(a);
        return;
      }
    }
    created(addLink(ns, spec, master));
  };

  /** Brings an existing owned link to its planned attributes, addresses and state. */
  /** `addressLines`: where the `addr add` lines go (the late step, for a link this diff creates). */
  const update = (
    ns: SimNamespace,
    lines: string[],
    spec: LinkSpec,
    l: SimLink,
    addressLines: string[] = lines,
  ): void => {
    const attrs: string[] = [];
    const master = desiredMaster(ns, spec);
    let flushV6 = false;
    if (master !== l.master && !(master !== undefined && foreign[ns.role].has(master))) {
      if (master === undefined) {
        attrs.push('nomaster');
        flushV6 = isVrf(ns, l.master);
        delete l.master;
        delete l.bridgePort;
      } else if (ns.get(master) === undefined) {
        out.problem(
          `${ns.role} namespace: ${spec.name} should be enslaved to ${master}, which does not exist` +
            (externalMaster.get(spec.name) === master ? ' (a bridge the user owns)' : ''),
        );
      } else {
        attrs.push(`master ${master}`);
        flushV6 = isVrf(ns, l.master) || isVrf(ns, master);
        l.master = master;
        if (ns.get(master)?.kind === 'bridge') l.bridgePort = { neighSuppress: false };
        else delete l.bridgePort;
      }
    }
    if (spec.mtu !== undefined && l.mtu !== spec.mtu) {
      attrs.push(`mtu ${spec.mtu}`);
      l.mtu = spec.mtu;
    }
    if (spec.mac !== undefined && l.mac !== spec.mac.toLowerCase()) {
      attrs.push(`address ${spec.mac.toLowerCase()}`);
      l.mac = spec.mac.toLowerCase();
    }
    // The alias marks host links only: in the router namespace every link of a managed kind is ours.
    if (ns.role === 'host' && l.alias !== OWNER_ALIAS) {
      attrs.push(`alias ${OWNER_ALIAS}`);
      l.alias = OWNER_ALIAS;
    }
    const wantMode = wantedMode(spec);
    const wantNone = wantMode === 'none';
    // No addrgenmode at all: IPv6 is disabled in this kernel (`lo` has none either), nothing to set.
    const ipv6 = ns.get('lo')?.addrGenMode !== undefined && l.addrGenMode !== undefined;
    let cycled = false;
    if (ipv6 && wantMode !== undefined && !modeMatches(wantMode, l.addrGenMode)) {
      // A link-local address is made when the link comes up: a running link that must have one goes
      // down first (the flags of a message are applied before its IPv6 settings), and up again below.
      if (wantMode === 'eui64' && l.up) {
        attrs.unshift('down');
        l.up = false;
        cycled = true;
      }
      attrs.push(`addrgenmode ${wantMode}`);
      l.addrGenMode = wantMode;
    }
    const masterChanged = attrs.some((a) => a === 'nomaster' || a.startsWith('master '));
    // `up` rides along unless the line also sets addrgenmode or changes a VRF membership: the kernel
    // applies the flags before the master and the IPv6 settings of the same message, and a link must
    // come up only after both (no link-local address where none is wanted, no VRF cycle). Coming up
    // just before joining or leaving a bridge is harmless.
    if (!l.up && !(masterChanged && flushV6) && !attrs.some((a) => a.startsWith('addrgenmode '))) {
      attrs.push('up');
      l.up = true;
    }
    const suppress =
      spec.type === 'vxlan' &&
      spec.neighSuppress &&
      l.bridgePort !== undefined &&
      !l.bridgePort.neighSuppress;
    // Port options go to the current master's driver, before the new master of the same message is
    // set: they share a line only with a port already in its bridge.
    if (suppress && !masterChanged) attrs.push('type bridge_slave neigh_suppress on');
    if (attrs.length > 0) lines.push(`link set dev ${spec.name} ${attrs.join(' ')}`);
    if (suppress && masterChanged)
      lines.push(`link set dev ${spec.name} type bridge_slave neigh_suppress on`);
    if (suppress && l.bridgePort !== undefined) l.bridgePort.neighSuppress = true;
    // Enslaving a running link to a VRF (or releasing it) cycles it, and taking a link down flushes
    // them: its IPv6 addresses are gone.
    if ((flushV6 && l.up) || cycled) l.addresses = l.addresses.filter((a) => a.family === 4);

    const want = new Set(spec.addresses.map(canonicalCidr));
    const have = managedAddresses(l);
    const stale = have.filter((a) => !want.has(a.cidr));
    if (wantNone) stale.push(...l.addresses.filter((a) => a.family === 6 && a.scope === 'link'));
    for (const a of stale) lines.push(`addr del ${a.cidr} dev ${spec.name}`);
    l.addresses = l.addresses.filter((a) => !stale.includes(a));
    const present = new Set(l.addresses.map((a) => a.cidr));
    for (const cidr of spec.addresses) {
      const c = canonicalCidr(cidr);
      if (present.has(c)) continue;
      addressLines.push(`addr add ${plannedAddressArgs(c)} dev ${spec.name}`);
      l.addresses.push({ cidr: c, family: ipv4(c) ? 4 : 6, scope: 'global', dynamic: false });
      present.add(c);
    }

    if (!l.up) {
      lines.push(`link set dev ${spec.name} up`);
      l.up = true;
    }
  };

  /**
   * Creates or updates the planned links of a namespace, in plan order (masters first). `newAddresses`:
   * where the addresses of the links created here go (see LATE_ADDRESSES).
   */
  const ensureLinks = (
    ns: SimNamespace,
    lines: string[],
    specs: readonly LinkSpec[],
    newAddresses: string[] = lines,
  ): void => {
    for (const spec of specs) {
      if (blocked[ns.role].has(spec.name)) continue;
      let l = ns.get(spec.name);
      if (l !== undefined && !owned(ns, l)) {
        out.problem(notOurs(ns, l));
        foreign[ns.role].add(spec.name);
        continue;
      }
      if (l === undefined) {
        if (spec.type === 'veth' && spec.peer.namespace !== ns.role && ns.role === 'host') {
          // Cross-namespace pairs are created from the router side; this end exists unless that failed.
          continue;
        }
        create(ns, lines, spec);
        l = ns.get(spec.name);
        if (l === undefined) continue;
        update(ns, lines, spec, l, newAddresses);
        continue;
      }
      update(ns, lines, spec, l);
    }
  };

  // --- 3. host (pre): the cross-namespace veth pairs, underlay NICs, stale host links ----------------
  for (const spec of plan.hostLinks) {
    if (spec.type !== 'veth' || spec.peer.namespace !== 'router') continue;
    const h = host.get(spec.name);
    const r = router.get(spec.peer.name);
    const intact =
      h?.kind === 'veth' && r?.kind === 'veth' && vethPeer(host, h)?.link === r && owned(router, r);
    if (intact) {
      if (!owned(host, h)) adopted.add(h.name);
      continue;
    }
    const hostConflict = h !== undefined && !owned(host, h);
    const routerConflict = r !== undefined && !owned(router, r);
    if (hostConflict || routerConflict) {
      if (hostConflict) out.problem(notOurs(host, h));
      if (routerConflict) out.problem(notOurs(router, r));
      blocked.host.add(spec.name);
      blocked.router.add(spec.peer.name);
      continue;
    }
    // The pair is created in the router step, its host end straight into the host namespace: a host
    // link of that name must be gone before (a broken router end is deleted in the router step).
    if (h !== undefined) del(host, out.hostPre, h);
  }

  const moved: { name: string; addresses: ActualAddress[] }[] = [];
  for (const nic of plan.underlayInterfaces) {
    if (router.get(nic) !== undefined) continue;
    const l = host.get(nic);
    if (l === undefined) {
      out.problem(`underlay interface ${nic} exists neither in the host nor in the router namespace`);
      continue;
    }
    const addresses = portableAddresses(l);
    underlayAddresses[nic] = addresses;
    // A moved device gets the router namespace's default address generation mode; the NIC keeps its
    // own (the IPv6 settings of the message are applied after the move).
    const keepMode =
      l.addrGenMode !== undefined &&
      ADDR_GEN_MODES.includes(l.addrGenMode) &&
      l.addrGenMode !== 'stable_secret'
        ? l.addrGenMode
        : undefined;
    const mode = keepMode !== undefined && keepMode !== birthMode(router) ? ` addrgenmode ${keepMode}` : '';
    out.hostPre.push(`link set dev ${nic} group ${UNDERLAY_GROUP} netns ${plan.routerNamespace}${mode}`);
    host.links.delete(nic);
    moved.push({ name: nic, addresses });
    router.links.set(nic, {
      ...l,
      group: UNDERLAY_GROUP,
      up: false,
      addresses: [],
      index: newIndex(),
      ...(l.addrGenMode === undefined ? {} : { addrGenMode: keepMode ?? birthMode(router) }),
    });
  }
  const hostStale: SimLink[] = [];
  for (const l of host.links.values()) {
    if (!owned(host, l)) continue;
    const spec = desired.host.get(l.name);
    if (spec === undefined || (!blocked.host.has(l.name) && mustRecreate(host, spec, l) !== undefined)) {
      hostStale.push(l);
    }
  }
  deleteAll(host, out.hostPre, hostStale);

  // --- 5. router -----------------------------------------------------------------------------------
  const routerLines = out.router;
  for (const { name, addresses } of moved) {
    for (const a of addresses) routerLines.push(`addr add ${addressArgs(a)} dev ${name}`);
    routerLines.push(`link set dev ${name} up`);
    const l = router.get(name);
    if (l !== undefined) {
      l.addresses = [...addresses];
      l.up = true;
    }
  }
  for (const nic of plan.underlayInterfaces) {
    const l = router.get(nic);
    if (l === undefined || moved.some((m) => m.name === nic)) continue;
    if (l.group !== UNDERLAY_GROUP) {
      routerLines.push(`link set dev ${nic} group ${UNDERLAY_GROUP}`);
      l.group = UNDERLAY_GROUP;
    }
    const remembered = ctx.underlayAddresses?.[nic];
    if (remembered !== undefined) {
      const present = new Set(l.addresses.map((a) => a.cidr));
      for (const a of remembered) {
        if (present.has(a.cidr)) continue;
        routerLines.push(`addr add ${addressArgs(a)} dev ${nic}`);
        l.addresses.push(a);
      }
      underlayAddresses[nic] = [...remembered];
    }
    if (!l.up) {
      routerLines.push(`link set dev ${nic} up`);
      l.up = true;
    }
  }
  // Underlay NICs no longer planned go back to the host with their addresses.
  for (const l of [...router.links.values()]) {
    if (l.group !== UNDERLAY_GROUP || underlay.has(l.name)) continue;
    if (host.get(l.name) !== undefined) {
      out.problem(
        `underlay interface ${l.name} cannot move back to the host namespace: a link of that name exists there`,
      );
      continue;
    }
    const addresses = portableAddresses(l);
    underlayAddresses[l.name] = addresses;
    routerLines.push(`link set dev ${l.name} netns ${ctx.hostNetnsRef}`);
    router.links.delete(l.name);
    out.hostPost.push(`link set dev ${l.name} group default`);
    for (const a of addresses) out.hostPost.push(`addr add ${addressArgs(a)} dev ${l.name}`);
    out.hostPost.push(`link set dev ${l.name} up`);
    host.links.set(l.name, { ...l, group: 'default', up: true, index: newIndex() });
  }

  const lo = router.get('lo');
  if (lo !== undefined) {
    if (!lo.up) {
      routerLines.push('link set dev lo up');
      lo.up = true;
    }
    const want = new Set(plan.loopbackAddresses.map(canonicalCidr));
    for (const a of lo.addresses) {
      const hostRoute =
        (a.family === 4 && a.cidr.endsWith('/32')) || (a.family === 6 && a.cidr.endsWith('/128'));
      // 127.0.0.1/8 and ::1/128 have host scope: never ours.
      if (hostRoute && a.scope !== 'host' && !want.has(a.cidr)) routerLines.push(`addr del ${a.cidr} dev lo`);
    }
    const present = new Set(lo.addresses.map((a) => a.cidr));
    for (const c of want) if (!present.has(c)) routerLines.push(`addr add ${c} dev lo`);
  }

  const routerStale: SimLink[] = [];
  for (const l of router.links.values()) {
    if (!owned(router, l)) continue;
    const spec = desired.router.get(l.name);
    if (spec === undefined) {
      routerStale.push(l);
      continue;
    }
    if (blocked.router.has(l.name)) continue;
    if (mustRecreate(router, spec, l) !== undefined) routerStale.push(l);
  }
  deleteAll(router, routerLines, routerStale);
  const routerNewAddresses: string[] = [];
  ensureLinks(router, routerLines, plan.routerLinks, routerNewAddresses);

  // --- 5. host -------------------------------------------------------------------------------------
  ensureLinks(host, out.host, plan.hostLinks);

  if (out.hostPre.length > 0) steps.push({ role: 'host', kind: 'ip', lines: out.hostPre });
  if (routerLines.length > 0) steps.push({ role: 'router', kind: 'ip', lines: routerLines });
  const hostLines = [...out.hostPost, ...out.host];
  if (hostLines.length > 0) steps.push({ role: 'host', kind: 'ip', lines: hostLines });
  // Last, after the host step: as late as possible after their links were created (LATE_ADDRESSES).
  if (routerNewAddresses.length > 0) steps.push({ role: 'router', kind: 'ip', lines: routerNewAddresses });
  return {
    steps,
    operations: steps.reduce((n, s) => n + s.lines.length, 0),
    problems: out.problems,
    warnings: out.warnings,
    underlayAddresses,
  };
}
