// What "the lab works" means, derived from the topology: BGP sessions, routes per VRF, pings. Pure:
// it reads the sections the status script gathered (scripts.ts) and returns one check per fact.
import type { Probe } from './scripts.js';
import { addressOf, type ExternalHost, isIpv6, type LabTopology, networkOf } from './topology.js';

export type CheckGroup =
  | 'agent'
  | 'bgp-leaf'
  | 'bfd-leaf'
  | 'bgp-host'
  | 'type5-node'
  | 'type5-leaf'
  | 'host-routes'
  | 'ping-l3'
  | 'ping-l2'
  | 'ping-passthrough'
  | 'zebra-view';

export const GROUP_TITLES: Record<CheckGroup, string> = {
  agent: "our agents' own verdict (status file)",
  'bgp-leaf': 'BGP sessions leaf ↔ nodes (ipv4 unicast + l2vpn evpn)',
  'bfd-leaf': 'BFD leaf ↔ nodes',
  'bgp-host': 'BGP sessions host speaker ↔ router, per VRF',
  'type5-node': "type-5 routes from the leaf in each node's VRF (kernel table)",
  'type5-leaf': "type-5 routes from the nodes in the leaf's VRFs (kernel table)",
  'host-routes': 'routes the host speakers installed, per VRF',
  'ping-l3': 'ping over the L3 VNIs (VXLAN)',
  'ping-l2': 'ping over the L2 VNI (stretched segment, anycast gateway)',
  'ping-passthrough': 'ping over the passthrough (default table)',
  'zebra-view': "FRR's zebra knows every address the kernel has (FRR 8.4 was seen to miss some)",
};

export interface LabCheck {
  /** Stable identifier, e.g. `bgp-leaf:node-a` or `ping:node-a:192.169.10.2>192.168.20.2`. */
  id: string;
  group: CheckGroup;
  /** Which node the check is about ('' for the leaf or the fabric). */
  node: string;
  subject: string;
  ok: boolean;
  detail: string;
  /** Reported, but does not count against convergence (a known FRR problem, not ours). */
  advisory?: boolean;
}

interface PingSpec extends Probe {
  group: CheckGroup;
  node: string;
  subject: string;
}

/** Hosts reachable through a session's VRF (`default` = the leaf's default table). */
function hostsOf(t: LabTopology, vrf: string): ExternalHost[] {
  return t.externalHosts.filter((h) => (h.vrf ?? 'default') === vrf);
}

function sameFamily(a: string, b: string): boolean {
  return isIpv6(a) === isIpv6(b);
}

/** Every ping of the lab: node → external hosts (from the veth address and from a service address), back, and L2. */
export function pings(t: LabTopology): PingSpec[] {
  const out: PingSpec[] = [];
  const ping = (
    group: CheckGroup,
    node: string,
    netns: string,
    source: string | undefined,
    target: string,
    subject: string,
  ) =>
    out.push({
      id: `ping:${netns}:${source ?? ''}>${target}`,
      group,
      node,
      netns,
      target,
      subject,
      ...(source ? { source } : {}),
    });
  for (const n of t.nodes) {
    for (const s of n.speaker.sessions) {
      const group: CheckGroup = s.vrf === 'default' ? 'ping-passthrough' : 'ping-l3';
      for (const h of hostsOf(t, s.vrf)) {
        for (const a of h.addresses.map(addressOf).filter((x) => sameFamily(x, s.localAddress))) {
          ping(
            group,
            n.name,
            n.hostNamespace,
            s.localAddress,
            a,
            `${n.name} → ${h.namespace} ${a} from host veth ${s.localAddress}`,
          );
          for (const svc of s.services.map(addressOf).filter((x) => sameFamily(x, a))) {
            ping(
              group,
              n.name,
              n.hostNamespace,
              svc,
              a,
              `${n.name} → ${h.namespace} ${a} from service ${svc}`,
            );
          }
        }
        for (const a of h.addresses.map(addressOf).filter((x) => sameFamily(x, s.localAddress))) {
          ping(
            group,
            n.name,
            h.namespace,
            a,
            s.localAddress,
            `${h.namespace} → ${n.name} host veth ${s.localAddress}`,
          );
        }
      }
    }
  }
  const wls = t.nodes.flatMap((n) => (n.workload ? [{ n, w: n.workload }] : []));
  for (const { n, w } of wls) {
    ping(
      'ping-l2',
      n.name,
      w.namespace,
      undefined,
      w.gateway,
      `${w.namespace} → anycast gateway ${w.gateway}`,
    );
  }
  for (const { n, w } of wls) {
    for (const o of wls.filter((x) => x.w !== w)) {
      const a = addressOf(o.w.address);
      ping('ping-l2', n.name, w.namespace, undefined, a, `${w.namespace} → ${o.w.namespace} ${a}`);
    }
  }
  for (const { n, w } of wls) {
    // Routed out of the L2 segment through the gateway into the L3 VNI (the L2VNI's routing domain).
    for (const h of t.externalHosts.filter((x) => x.vrf !== undefined)) {
      const a = h.addresses.map(addressOf).find((x) => !isIpv6(x));
      if (a === undefined || h.vrf !== w.vrf) continue;
      ping(
        'ping-l2',
        n.name,
        w.namespace,
        undefined,
        a,
        `${w.namespace} → ${h.namespace} ${a} (routed via the gateway)`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Parsing

type Json = unknown;

function parseJson(text: string | undefined): Json {
  if (text === undefined) return undefined;
  const start = text.search(/[[{]/);
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
}

function obj(v: Json): Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, Json>) : {};
}

function arr(v: Json): Json[] {
  return Array.isArray(v) ? v : [];
}

function str(v: Json): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

interface PeerState {
  state: string;
  pfxRcd?: number;
}

/** Peers of one BGP summary address family: address → state. */
function peersOf(af: Json): Map<string, PeerState> {
  const m = new Map<string, PeerState>();
  for (const [addr, p] of Object.entries(obj(obj(af)['peers']))) {
    const po = obj(p);
    const rcd = po['pfxRcd'];
    m.set(addr, { state: str(po['state']), ...(typeof rcd === 'number' ? { pfxRcd: rcd } : {}) });
  }
  return m;
}

export interface Route {
  dst: string;
  table: string;
  gateways: string[];
  devs: string[];
  onlink: boolean;
  protocol: string;
}

function routes(text: string | undefined): Route[] {
  return arr(parseJson(text)).map((r) => {
    const o = obj(r);
    const hops = o['nexthops'] !== undefined ? arr(o['nexthops']).map(obj) : [o];
    const gw = (h: Record<string, Json>) => str(h['gateway']) || str(obj(h['via'])['host']);
    return {
      dst: str(o['dst']),
      table: str(o['table']) || 'main',
      gateways: hops
        .map(gw)
        .filter((g) => g !== '')
        .map((g) => g.replace(/^::ffff:/, '')),
      devs: hops.map((h) => str(h['dev'])).filter((d) => d !== ''),
      onlink: hops.some((h) => arr(h['flags']).includes('onlink')) || arr(o['flags']).includes('onlink'),
      protocol: str(o['protocol']),
    };
  });
}

/** VRF name → kernel table id, from `ip -j -d link show type vrf`. */
function vrfTables(text: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of arr(parseJson(text)).map(obj)) {
    const table = obj(obj(l['linkinfo'])['info_data'])['table'];
    if (table !== undefined) m.set(str(l['ifname']), str(table));
  }
  return m;
}

function describeRoute(r: Route): string {
  return `${r.dst} via ${r.gateways.join(',') || '-'} dev ${r.devs.join(',') || '-'}${r.onlink ? ' onlink' : ''}`;
}

function findRoute(rs: Route[], table: string | undefined, dst: string): Route | undefined {
  const want = dst.endsWith('/32') || dst.endsWith('/128') ? [dst, addressOf(dst)] : [dst];
  return rs.find((r) => (table === undefined || r.table === table) && want.includes(r.dst));
}

// ---------------------------------------------------------------------------------------------------
// Checks

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export function parseProbes(text: string | undefined): Map<string, ProbeResult> {
  const m = new Map<string, ProbeResult>();
  for (const line of (text ?? '').split('\n')) {
    const [id, verdict, rest] = line.split('\t');
    if (id === undefined || verdict === undefined) continue;
    m.set(
      id,
      verdict === 'ok' ? { ok: true, detail: `${rest ?? '?'} ms` } : { ok: false, detail: rest ?? verdict },
    );
  }
  return m;
}

export function evaluate(t: LabTopology, sections: Map<string, string>): LabCheck[] {
  const checks: LabCheck[] = [];
  const add = (c: LabCheck) => checks.push(c);
  const L = t.leaf;

  // Leaf ↔ nodes
  const leafBgp = obj(obj(parseJson(sections.get('leaf.bgp')))['default']);
  const leafV4 = peersOf(leafBgp['ipv4Unicast']);
  const leafEvpn = peersOf(leafBgp['l2VpnEvpn']);
  const bfd = new Map(
    arr(parseJson(sections.get('leaf.bfd'))).map((p) => [str(obj(p)['peer']), str(obj(p)['status'])]),
  );
  for (const n of t.nodes) {
    const ip = addressOf(n.underlay.address);
    const v4 = leafV4.get(ip);
    const ev = leafEvpn.get(ip);
    const ok = v4?.state === 'Established' && ev?.state === 'Established';
    add({
      id: `bgp-leaf:${n.name}`,
      group: 'bgp-leaf',
      node: n.name,
      subject: `leaf ↔ ${n.name} (${ip})`,
      ok,
      detail: ok
        ? `Established; ipv4 ${v4?.pfxRcd ?? '?'} prefixes, evpn ${ev?.pfxRcd ?? '?'} prefixes received`
        : `ipv4 ${v4?.state || 'no session'}, evpn ${ev?.state || 'no session'}`,
    });
    const b = bfd.get(ip);
    add({
      id: `bfd-leaf:${n.name}`,
      group: 'bfd-leaf',
      node: n.name,
      subject: `leaf ↔ ${n.name} (${ip})`,
      ok: b === 'up',
      detail: b || 'no BFD peer',
    });
  }

  // Host speaker ↔ router
  for (const n of t.nodes) {
    const sp = obj(parseJson(sections.get(`${n.name}.speaker`)));
    const v4 = peersOf(sp['ipv4Unicast']);
    const v6 = peersOf(sp['ipv6Unicast']);
    for (const s of n.speaker.sessions) {
      const p = (isIpv6(s.routerAddress) ? v6 : v4).get(s.routerAddress);
      const ok = p?.state === 'Established';
      add({
        id: `bgp-host:${n.name}:${s.vrf}:${s.routerAddress}`,
        group: 'bgp-host',
        node: n.name,
        subject: `${n.name} ${s.vrf.padEnd(7)} ${s.localAddress} ↔ ${s.routerAddress}`,
        ok,
        detail: ok ? `Established; ${p?.pfxRcd ?? '?'} prefixes received` : p?.state || 'no session',
      });
    }
  }

  // Type-5 routes into the nodes' VRFs
  for (const n of t.nodes) {
    const tables = vrfTables(sections.get(`${n.name}.vrfs`));
    const rs = [...routes(sections.get(`${n.name}.r4`)), ...routes(sections.get(`${n.name}.r6`))];
    for (const v of L.vrfs) {
      const table = tables.get(v.name);
      for (const h of hostsOf(t, v.name)) {
        for (const net of h.leafAddresses.map(networkOf)) {
          const r = table === undefined ? undefined : findRoute(rs, table, net);
          const ok = r?.onlink === true && r.gateways.includes(L.vtep);
          add({
            id: `type5-node:${n.name}:${v.name}:${net}`,
            group: 'type5-node',
            node: n.name,
            subject: `${n.name} vrf ${v.name.padEnd(5)} ${net}`,
            ok,
            detail: table === undefined ? `no VRF ${v.name}` : r ? describeRoute(r) : 'missing',
          });
        }
      }
    }
  }

  // Type-5 routes from the nodes into the leaf's VRFs
  {
    const tables = vrfTables(sections.get('leaf.vrfs'));
    const rs = [...routes(sections.get('leaf.r4')), ...routes(sections.get('leaf.r6'))];
    for (const n of t.nodes) {
      for (const s of n.speaker.sessions.filter((x) => x.vrf !== 'default')) {
        const table = tables.get(s.vrf);
        const host = `${s.localAddress}/${isIpv6(s.localAddress) ? 128 : 32}`;
        for (const [what, prefix] of [
          ['host veth', host],
          ...s.services.map((x): [string, string] => ['service', x]),
        ] as [string, string][]) {
          const r = table === undefined ? undefined : findRoute(rs, table, prefix);
          const ok = r?.onlink === true && r.gateways.includes(n.vtep);
          add({
            id: `type5-leaf:${n.name}:${s.vrf}:${prefix}`,
            group: 'type5-leaf',
            node: n.name,
            subject: `leaf vrf ${s.vrf.padEnd(5)} ${prefix} (${n.name} ${what})`,
            ok,
            detail: table === undefined ? `no VRF ${s.vrf}` : r ? describeRoute(r) : 'missing',
          });
        }
      }
    }
  }

  // Routes the host speakers installed
  for (const n of t.nodes) {
    const rs = [...routes(sections.get(`${n.name}.host4`)), ...routes(sections.get(`${n.name}.host6`))];
    for (const s of n.speaker.sessions) {
      for (const h of hostsOf(t, s.vrf)) {
        for (const net of h.leafAddresses.filter((a) => sameFamily(a, s.localAddress)).map(networkOf)) {
          const r = findRoute(rs, undefined, net);
          const ok = r?.gateways.some((g) => g === s.routerAddress || g.startsWith('fe80:')) === true;
          add({
            id: `host-routes:${n.name}:${s.vrf}:${net}`,
            group: 'host-routes',
            node: n.name,
            subject: `${n.name} ${s.vrf.padEnd(7)} ${net} (${h.namespace})`,
            ok,
            detail: r ? describeRoute(r) : 'missing',
          });
        }
      }
    }
  }

  // zebra's view of the addresses vs the kernel's
  for (const n of t.nodes) {
    for (const [where, ns, kernel, zebra] of [
      ['host speaker', n.hostNamespace, 'haddr', 'hzebra'],
      ['router', n.routerNamespace, 'raddr', 'rzebra'],
    ] as const) {
      const missing = zebraMissing(sections.get(`${n.name}.${kernel}`), sections.get(`${n.name}.${zebra}`));
      add({
        id: `zebra-view:${n.name}:${where === 'router' ? 'router' : 'host'}`,
        group: 'zebra-view',
        node: n.name,
        subject: `${n.name} ${where} FRR (${ns})`,
        ok: missing.length === 0,
        detail: missing.length === 0 ? 'in sync with the kernel' : `zebra lacks ${missing.join(', ')}`,
        // The routers' FRR is the product's: a miss there is reported, the lab cannot repair it.
        ...(where === 'router' ? { advisory: true } : {}),
      });
    }
  }

  // Pings
  const results = parseProbes(sections.get('probes'));
  for (const p of pings(t)) {
    const r = results.get(p.id);
    add({
      id: p.id,
      group: p.group,
      node: p.node,
      subject: p.subject,
      ok: r?.ok ?? false,
      detail: r?.detail ?? 'not run',
    });
  }
  return checks;
}

/** Interface → addresses from `show interface [vrf all] brief` (FRR 8.4 has no JSON for it). */
export function parseZebraBrief(text: string | undefined): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of (text ?? '').split('\n')) {
    if (line.trim() === '' || /^(Interface\s|-+\s)/.test(line)) continue;
    const addrs = line.match(/[0-9a-fA-F:.]+\/\d+/g) ?? [];
    if (!/^\s/.test(line)) {
      const name = line.split(/\s+/)[0] ?? '';
      current = m.get(name) ?? new Set<string>();
      m.set(name, current);
    }
    for (const a of addrs) current?.add(a);
  }
  return m;
}

/** Global addresses the kernel has (`ip -j addr`) and zebra does not list, as `addr on ifname`. */
export function zebraMissing(kernelJson: string | undefined, zebraBrief: string | undefined): string[] {
  if (kernelJson === undefined || zebraBrief === undefined || !zebraBrief.includes('Interface'))
    return ['(unreadable)'];
  const zebra = parseZebraBrief(zebraBrief);
  const missing: string[] = [];
  for (const l of arr(parseJson(kernelJson)).map(obj)) {
    const name = str(l['ifname']);
    for (const a of arr(l['addr_info']).map(obj)) {
      if (str(a['scope']) === 'link' || str(a['scope']) === 'host') continue;
      const addr = `${str(a['local'])}/${str(a['prefixlen'])}`;
      if (!zebra.get(name)?.has(addr)) missing.push(`${addr} on ${name}`);
    }
  }
  return missing;
}

/** One line naming what is still missing, grouped (for progress output). */
export function summarizeFailing(checks: LabCheck[], max = 4): string {
  const failing = checks.filter((c) => !c.ok && c.advisory !== true);
  if (failing.length === 0) return 'nothing';
  const byGroup = new Map<CheckGroup, LabCheck[]>();
  for (const c of failing) byGroup.set(c.group, [...(byGroup.get(c.group) ?? []), c]);
  return [...byGroup.entries()]
    .map(([g, cs]) => {
      const names = cs.slice(0, max).map((c) => `${c.subject.replace(/\s+/g, ' ')} (${c.detail})`);
      return `${g} ${cs.length}: ${names.join('; ')}${cs.length > max ? '; …' : ''}`;
    })
    .join(' | ');
}

/** The verification table, for humans. */
export function formatChecks(checks: LabCheck[], opts: { color?: boolean } = {}): string {
  const paint = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const mark = (c: LabCheck) => (c.ok ? paint('32', '✓') : c.advisory ? paint('33', '!') : paint('31', '✗'));
  const lines: string[] = [];
  const groups = [...new Set(checks.map((c) => c.group))];
  for (const g of groups) {
    const cs = checks.filter((c) => c.group === g);
    const okCount = cs.filter((c) => c.ok).length;
    lines.push(`${GROUP_TITLES[g]}  [${okCount}/${cs.length}]`);
    const w = Math.max(...cs.map((c) => c.subject.length));
    for (const c of cs)
      lines.push(
        `  ${mark(c)} ${c.subject.padEnd(w)}  ${c.detail}${!c.ok && c.advisory ? ' (advisory: not counted)' : ''}`,
      );
  }
  return lines.join('\n');
}
