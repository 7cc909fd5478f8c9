// NodeConfig -> the complete FRR configuration text. Deterministic, and written the way FRR itself
// prints it (`show running-config`), so re-applying an unchanged configuration is a no-op for
// frr-reload.py: no line is removed and re-added, no session flaps.
import type { HostSessionConfig, L3VNIConfig, NeighborConfig, NodeConfig, UnderlayConfig } from './model.js';

class Text {
  readonly lines: string[] = [];
  add(indent: number, ...lines: string[]): void {
    for (const l of lines) this.lines.push(`${' '.repeat(indent)}${l}`);
  }
  /** An address-family block, omitted entirely when it has no lines. */
  af(indent: number, name: string, body: string[]): void {
    if (body.length === 0) return;
    this.add(indent, `address-family ${name}`);
    this.add(indent + 1, ...body);
    this.add(indent, 'exit-address-family');
  }
}

const DEBUG_LINES = [
  'debug zebra events',
  'debug zebra nht',
  'debug zebra kernel',
  'debug zebra rib',
  'debug zebra nexthop',
  'debug zebra vxlan',
  'debug bgp neighbor-events',
  'debug bgp updates',
  'debug bgp nht',
  'debug bgp zebra',
  'debug bfd network',
  'debug bfd peer',
  'debug bfd zebra',
];

const hostAddr = (cidr: string) => cidr.split('/')[0]!;
const hostPrefix = (cidr: string) => `${hostAddr(cidr)}/${cidr.includes(':') ? 128 : 32}`;

function sessionLines(n: NeighborConfig): string[] {
  const id = n.id;
  const out = [`neighbor ${id} remote-as ${n.remoteAs}`];
  if (n.port !== undefined) out.push(`neighbor ${id} port ${n.port}`);
  if (n.password !== undefined) out.push(`neighbor ${id} password ${n.password}`);
  // FRR prints a bare `ebgp-multihop` back as `ebgp-multihop 255` (its default TTL).
  if (n.ebgpMultihop) out.push(`neighbor ${id} ebgp-multihop ${n.ebgpMultihop.ttl ?? 255}`);
  // IPv6 eBGP peers over a direct link: FRR's connected check fails for link-local next hops.
  if (n.family === 6 && !n.ibgp && !n.ebgpMultihop) out.push(`neighbor ${id} disable-connected-check`);
  if (n.extendedNexthop) out.push(`neighbor ${id} capability extended-nexthop`);
  if (n.holdTime !== undefined && n.keepaliveTime !== undefined)
    out.push(`neighbor ${id} timers ${n.keepaliveTime} ${n.holdTime}`);
  if (n.connectTime !== undefined) out.push(`neighbor ${id} timers connect ${n.connectTime}`);
  if (n.bfd) {
    // FRR prints `bfd` together with `bfd profile`: emitting only the profile line made every
    // reload remove BFD and reset the session (lab.md).
    out.push(`neighbor ${id} bfd`);
    if (n.bfd.profile) out.push(`neighbor ${id} bfd profile ${n.bfd.profile.name}`);
  }
  return out;
}

/** Lines of a fabric neighbor inside one unicast address family. */
function fabricAfLines(n: NeighborConfig): string[] {
  const out = [`neighbor ${n.id} activate`];
  // Every node shares the underlay AS: routes of node A relayed by the ToR back to node B carry B's
  // own AS (eBGP), so B must accept it. iBGP peers instead need us as next hop.
  out.push(n.ibgp ? `neighbor ${n.id} next-hop-self force` : `neighbor ${n.id} allowas-in`);
  return out;
}

interface HostNeighbor {
  id: string;
  family: 4 | 6;
  remoteAs: HostSessionConfig['remoteAs'];
  ibgp: boolean;
  network: string;
}

function hostNeighbors(hs: HostSessionConfig): HostNeighbor[] {
  const out: HostNeighbor[] = [];
  if (hs.ipv4)
    out.push({
      id: hostAddr(hs.ipv4.host),
      family: 4,
      remoteAs: hs.remoteAs,
      ibgp: hs.ibgp,
      network: hostPrefix(hs.ipv4.host),
    });
  if (hs.ipv6)
    out.push({
      id: hostAddr(hs.ipv6.host),
      family: 6,
      remoteAs: hs.remoteAs,
      ibgp: hs.ibgp,
      network: hostPrefix(hs.ipv6.host),
    });
  return out;
}

/**
 * A host session's neighbors in one unicast family. With a dual-stack pool each neighbor carries its
 * own family; a single-stack VRF session carries both families (`crossFamily`, upstream's behaviour),
 * while the passthrough's session carries only its own (upstream too).
 */
function hostAfLines(neighbors: HostNeighbor[], family: 4 | 6, crossFamily: boolean): string[] {
  const dual = neighbors.length > 1 || !crossFamily;
  const out: string[] = [];
  for (const h of neighbors) {
    if (dual && h.family !== family) continue;
    out.push(`neighbor ${h.id} activate`);
    if (h.ibgp) out.push(`neighbor ${h.id} next-hop-self force`);
    out.push(`neighbor ${h.id} route-map allowall in`, `neighbor ${h.id} route-map allowall out`);
  }
  return out;
}

function hostSessionLines(neighbors: HostNeighbor[], connectTime?: number): string[] {
  const out: string[] = [];
  for (const h of neighbors) {
    out.push(`neighbor ${h.id} remote-as ${h.remoteAs}`);
    if (connectTime !== undefined) out.push(`neighbor ${h.id} timers connect ${connectTime}`);
  }
  return out;
}

const networksOf = (neighbors: HostNeighbor[], family: 4 | 6) =>
  neighbors.filter((h) => h.family === family).map((h) => `network ${h.network}`);

function bgpGlobals(t: Text, routerId: string): void {
  t.add(
    1,
    `bgp router-id ${routerId}`,
    'no bgp ebgp-requires-policy',
    'no bgp default ipv4-unicast',
    'no bgp network import-check',
  );
}

function underlayBgp(t: Text, cfg: NodeConfig, u: UnderlayConfig): void {
  t.add(0, `router bgp ${u.asn}`);
  bgpGlobals(t, u.routerId);
  if (u.gracefulRestart) {
    t.add(1, 'bgp graceful-restart', 'bgp graceful-restart preserve-fw-state');
    // Values equal to FRR's defaults are not printed back; writing them would be a diff every reload.
    if (u.gracefulRestart.restartTime !== 120)
      t.add(1, `bgp graceful-restart restart-time ${u.gracefulRestart.restartTime}`);
    if (u.gracefulRestart.stalePathTime !== 360)
      t.add(1, `bgp graceful-restart stalepath-time ${u.gracefulRestart.stalePathTime}`);
  }
  for (const n of u.neighbors) t.add(1, ...sessionLines(n));
  const pt = cfg.passthrough ? hostNeighbors(cfg.passthrough.hostSession) : [];
  // The passthrough's host speaker: a quick connect retry so the host session recovers fast.
  t.add(1, ...hostSessionLines(pt, 5));

  const v4: string[] = [];
  const v6: string[] = [];
  if (u.tunnelEndpoint?.ipv4) v4.push(`network ${u.tunnelEndpoint.ipv4}/32`);
  if (u.tunnelEndpoint?.ipv6) v6.push(`network ${u.tunnelEndpoint.ipv6}/128`);
  v4.push(...networksOf(pt, 4));
  v6.push(...networksOf(pt, 6));
  for (const n of u.neighbors) {
    if (n.addressFamilies.includes('ipv4unicast')) v4.push(...fabricAfLines(n));
    if (n.addressFamilies.includes('ipv6unicast')) v6.push(...fabricAfLines(n));
  }
  v4.push(...hostAfLines(pt, 4, false));
  v6.push(...hostAfLines(pt, 6, false));
  t.af(1, 'ipv4 unicast', v4);
  t.af(1, 'ipv6 unicast', v6);

  const evpn: string[] = [];
  for (const n of u.neighbors) {
    if (!n.addressFamilies.includes('evpn')) continue;
    evpn.push(`neighbor ${n.id} activate`);
    if (!n.ibgp) evpn.push(`neighbor ${n.id} allowas-in`);
  }
  if (u.tunnelEndpoint && (u.tunnelEndpoint.ipv4 || u.tunnelEndpoint.ipv6)) evpn.push('advertise-all-vni');
  t.af(1, 'l2vpn evpn', evpn);
  t.add(0, 'exit');
}

function vrfBgp(t: Text, u: UnderlayConfig, v: L3VNIConfig): void {
  const hs = v.hostSession;
  t.add(0, `router bgp ${hs?.asn ?? u.asn} vrf ${v.vrf}`);
  bgpGlobals(t, u.routerId);
  const hosts = hs ? hostNeighbors(hs) : [];
  t.add(1, ...hostSessionLines(hosts));
  const gw4 = v.gatewayNetworks.filter((g) => !g.includes(':')).map((g) => `network ${g}`);
  const gw6 = v.gatewayNetworks.filter((g) => g.includes(':')).map((g) => `network ${g}`);
  t.af(1, 'ipv4 unicast', [...networksOf(hosts, 4), ...gw4, ...hostAfLines(hosts, 4, true)]);
  t.af(1, 'ipv6 unicast', [...networksOf(hosts, 6), ...gw6, ...hostAfLines(hosts, 6, true)]);
  t.af(1, 'l2vpn evpn', [
    'advertise ipv4 unicast',
    'advertise ipv6 unicast',
    ...v.importRTs.map((rt) => `route-target import ${rt}`),
    ...v.exportRTs.map((rt) => `route-target export ${rt}`),
  ]);
  t.add(0, 'exit');
}

function bfdProfiles(t: Text, u: UnderlayConfig | undefined): void {
  const profiles = (u?.neighbors ?? []).flatMap((n) => (n.bfd?.profile ? [n.bfd.profile] : []));
  if (profiles.length === 0) return;
  t.add(0, 'bfd');
  for (const p of profiles) {
    t.add(1, `profile ${p.name}`);
    // Values equal to bfdd's defaults (3, 300 ms, 300 ms) are not printed back: omit them.
    if (p.detectMultiplier !== undefined && p.detectMultiplier !== 3)
      t.add(2, `detect-multiplier ${p.detectMultiplier}`);
    if (p.receiveInterval !== undefined && p.receiveInterval !== 300)
      t.add(2, `receive-interval ${p.receiveInterval}`);
    if (p.transmitInterval !== undefined && p.transmitInterval !== 300)
      t.add(2, `transmit-interval ${p.transmitInterval}`);
    if (p.passive) t.add(2, 'passive-mode');
    if (p.minimumTtl !== undefined) t.add(2, `minimum-ttl ${p.minimumTtl}`);
    t.add(1, 'exit');
  }
  t.add(0, 'exit');
}

export function renderFrr(cfg: NodeConfig): string {
  const t = new Text();
  t.add(
    0,
    'frr defaults traditional',
    `hostname ${cfg.node.hostname}`,
    `log stdout ${cfg.node.logLevel}`,
    'log timestamp precision 3',
  );
  if (cfg.node.logLevel === 'debugging') t.add(0, ...DEBUG_LINES);
  t.add(0, 'ip nht resolve-via-default', 'ipv6 nht resolve-via-default');
  for (const v of cfg.l3vnis) {
    t.add(0, `vrf ${v.vrf}`);
    t.add(1, `vni ${v.vni}`);
    t.add(0, 'exit-vrf');
  }
  bfdProfiles(t, cfg.underlay);
  t.add(0, 'route-map allowall permit 1', 'exit');
  if (cfg.underlay) {
    underlayBgp(t, cfg, cfg.underlay);
    for (const v of cfg.l3vnis) vrfBgp(t, cfg.underlay, v);
  }
  let text = `${t.lines.join('\n')}\n`;
  for (const raw of cfg.rawFrr) text += raw.endsWith('\n') ? raw : `${raw}\n`;
  return text;
}
