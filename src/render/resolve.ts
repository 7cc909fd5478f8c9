// API objects + node facts -> the node's resolved configuration (or why it cannot be applied).
import {
  applyNodeRules,
  type NodeRuleOptions,
  type ObjectFailure,
  routingDomainOf,
  selectForNode,
} from '../api/node-rules.js';
import type {
  ApiSnapshot,
  HostSession,
  L2VNI,
  L3Passthrough,
  L3VNI,
  Neighbor,
  RoutingObject,
  Underlay,
} from '../api/types.js';
import {
  gatewayMac,
  IpamError,
  ipFamily,
  parseCidr,
  routerId,
  tunnelEndpoints,
  vethAddresses,
} from '../ipam/index.js';
import type {
  AddressFamily,
  HostSessionConfig,
  L2VNIConfig,
  L3VNIConfig,
  NeighborConfig,
  NodeConfig,
  NodeFacts,
  ObjectRef,
  PassthroughConfig,
  UnderlayConfig,
} from './model.js';

export interface ResolveOptions extends NodeRuleOptions {
  /** Looks up the password of a neighbor's passwordSecret (Kubernetes mode); undefined = not found. */
  secretPassword?: (namespace: string | undefined, name: string) => string | undefined;
}

export interface NodeResult {
  /**
   * The configuration to apply. Absent when the node's Underlay is invalid: then nothing is applied
   * and the running configuration is left as it is (upstream: UnderlayFailed).
   */
  config?: NodeConfig;
  failures: ObjectFailure[];
}

/** Kernel table of an L3VNI's VRF: deterministic, unique per VNI, clear of the reserved 253–255. */
export function vrfTable(vni: number): number {
  return 1_000_000 + vni;
}

const ref = (o: RoutingObject): ObjectRef => ({
  kind: o.kind,
  name: o.metadata.name,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
});

const label = (o: RoutingObject, field: string) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name} ${field}`;

function remoteAs(
  asn: number | undefined,
  type: 'External' | 'Internal' | undefined,
): number | 'external' | 'internal' {
  if (asn !== undefined) return asn;
  return type === 'Internal' ? 'internal' : 'external';
}

function hostSessionConfig(o: L3VNI | L3Passthrough, hs: HostSession, index: number): HostSessionConfig {
  const veths = vethAddresses(hs.localCIDR, index, label(o, 'spec.hostSession.localCIDR'));
  return {
    asn: hs.asn,
    remoteAs: remoteAs(hs.hostASN, hs.hostType),
    ibgp: hs.hostType === 'Internal' || hs.hostASN === hs.asn,
    ...(veths.ipv4 ? { ipv4: veths.ipv4 } : {}),
    ...(veths.ipv6 ? { ipv6: veths.ipv6 } : {}),
  };
}

interface AfContext {
  passthroughFamilies: Set<4 | 6>;
  hasVnis: boolean;
  tunnelFamilies: Set<4 | 6>;
}

/** Upstream's automatic address families for a neighbor that lists none. */
function defaultAddressFamilies(family: 4 | 6, ctx: AfContext): AddressFamily[] {
  const afs = new Set<AddressFamily>([family === 6 ? 'ipv6unicast' : 'ipv4unicast']);
  for (const f of ctx.passthroughFamilies) afs.add(f === 4 ? 'ipv4unicast' : 'ipv6unicast');
  if (ctx.hasVnis) {
    afs.add('ipv4unicast');
    afs.add('evpn');
  }
  for (const f of ctx.tunnelFamilies) afs.add(f === 4 ? 'ipv4unicast' : 'ipv6unicast');
  const order: AddressFamily[] = ['ipv4unicast', 'ipv6unicast', 'evpn'];
  return order.filter((a) => afs.has(a));
}

function neighborConfig(
  u: Underlay,
  n: Neighbor,
  i: number,
  ctx: AfContext,
  opts: ResolveOptions,
): NeighborConfig {
  const id = n.address!;
  const family = ipFamily(id);
  const ibgp = n.type === 'Internal' || n.asn === u.spec.asn;
  let password = n.password;
  if (n.passwordSecret !== undefined) {
    password = opts.secretPassword?.(u.metadata.namespace, n.passwordSecret);
    if (password === undefined) {
      throw new IpamError(
        `${label(u, `spec.neighbors[${i}].passwordSecret`)}: Secret ${JSON.stringify(n.passwordSecret)} not found (or it has no key "password")`,
      );
    }
  }
  const bfd = n.bfd;
  const hasKnob = bfd !== undefined && Object.keys(bfd).length > 0;
  const afs = n.addressFamilies?.length
    ? (['ipv4unicast', 'ipv6unicast', 'evpn'] as const).filter((a) =>
        n.addressFamilies!.some((x) => x.type === a),
      )
    : defaultAddressFamilies(family, ctx);
  const ttl = n.properties?.find((p) => p.type === 'ebgpMultiHop');
  const connectTime = n.connectTimeSeconds ?? (u.spec.gracefulRestart ? 5 : undefined);
  return {
    id,
    family,
    remoteAs: remoteAs(n.asn, n.type),
    ibgp,
    ...(n.port !== undefined ? { port: n.port } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(n.holdTimeSeconds !== undefined ? { holdTime: n.holdTimeSeconds } : {}),
    ...(n.keepaliveTimeSeconds !== undefined ? { keepaliveTime: n.keepaliveTimeSeconds } : {}),
    ...(connectTime !== undefined ? { connectTime } : {}),
    ...(ttl
      ? { ebgpMultihop: ttl.ebgpMultiHop?.ttl !== undefined ? { ttl: ttl.ebgpMultiHop.ttl } : {} }
      : {}),
    ...(bfd
      ? {
          bfd: hasKnob
            ? {
                profile: {
                  name: `neighbor-${id}`,
                  ...(bfd.receiveInterval !== undefined ? { receiveInterval: bfd.receiveInterval } : {}),
                  ...(bfd.transmitInterval !== undefined ? { transmitInterval: bfd.transmitInterval } : {}),
                  ...(bfd.detectMultiplier !== undefined ? { detectMultiplier: bfd.detectMultiplier } : {}),
                  ...(bfd.sessionMode === 'Passive' ? { passive: true } : {}),
                  ...(bfd.minimumTTL !== undefined ? { minimumTtl: bfd.minimumTTL } : {}),
                },
              }
            : {},
        }
      : {}),
    addressFamilies: afs,
    extendedNexthop: family === 6 && afs.includes('ipv4unicast'),
  };
}

function underlayConfig(u: Underlay, index: number, ctx: AfContext, opts: ResolveOptions): UnderlayConfig {
  const rid = routerId(u.spec.routerIDCIDR ?? '10.0.0.0/24', index, label(u, 'spec.routerIDCIDR'));
  const te = u.spec.tunnelEndpoint
    ? tunnelEndpoints(u.spec.tunnelEndpoint.cidrs, index, label(u, 'spec.tunnelEndpoint.cidrs'))
    : undefined;
  const gr = u.spec.gracefulRestart;
  return {
    source: ref(u),
    asn: u.spec.asn,
    routerId: rid,
    interfaces: u.spec.interfaces.map((i) => i.networkDevice!.interfaceName),
    ...(te ? { tunnelEndpoint: te } : {}),
    neighbors: u.spec.neighbors.map((n, i) => neighborConfig(u, n, i, ctx, opts)),
    ...(gr
      ? {
          gracefulRestart: {
            restartTime: gr.restartTimeSeconds ?? 120,
            stalePathTime: gr.stalePathTimeSeconds ?? 360,
          },
        }
      : {}),
  };
}

function vtepFor(o: L3VNI | L2VNI, te: { ipv4?: string; ipv6?: string }): string {
  const want = o.spec.underlayAddressFamily ?? (te.ipv4 ? 'IPv4' : 'IPv6');
  const addr = want === 'IPv4' ? te.ipv4 : te.ipv6;
  if (!addr) throw new IpamError(`${want} address family requested but no ${want} VTEP IP available`);
  return addr;
}

function familiesOf(local: { ipv4?: string; ipv6?: string } | undefined): Set<4 | 6> {
  const s = new Set<4 | 6>();
  if (local?.ipv4) s.add(4);
  if (local?.ipv6) s.add(6);
  return s;
}

/** Computes the configuration of one node from every object of the cluster (or static directory). */
export function resolveNode(snapshot: ApiSnapshot, facts: NodeFacts, opts: ResolveOptions = {}): NodeResult {
  const selected = selectForNode(snapshot, facts.labels);
  const { accepted, failures } = applyNodeRules(selected, opts);
  if (failures.some((f) => f.object.kind === 'Underlay')) return { failures };
  const fail = (
    object: RoutingObject,
    message: string,
    reason: ObjectFailure['reason'] = 'ValidationFailed',
  ) => failures.push({ object, reason, message });

  const index = facts.index;
  const u = accepted.underlays[0];
  const node: NodeConfig['node'] = {
    name: facts.name,
    index,
    labels: facts.labels,
    hostname: facts.hostname ?? facts.name,
    underlayMtu: facts.underlayMtu ?? 1500,
    logLevel: facts.logLevel ?? 'informational',
  };
  const raw = [...accepted.rawFRRConfigs]
    .sort((a, b) => (a.spec.priority ?? 0) - (b.spec.priority ?? 0))
    .map((r) => r.spec.rawConfig);
  if (!u) return { config: { node, l3vnis: [], l2vnis: [], rawFrr: raw }, failures };

  // Per-object IPAM first: an object whose addresses cannot be computed fails alone.
  let tunnel: { ipv4?: string; ipv6?: string } = {};
  try {
    tunnel = u.spec.tunnelEndpoint
      ? tunnelEndpoints(u.spec.tunnelEndpoint.cidrs, index, label(u, 'spec.tunnelEndpoint.cidrs'))
      : {};
  } catch (err) {
    fail(u, (err as Error).message);
    return { failures };
  }

  const l3vnis: L3VNIConfig[] = [];
  const l3ByObject = new Map<L3VNI, L3VNIConfig>();
  for (const v of accepted.l3vnis) {
    try {
      const cfg: L3VNIConfig = {
        source: ref(v),
        vrf: v.spec.vrf,
        vni: v.spec.vni,
        vxlanPort: v.spec.vxlanPort ?? 4789,
        vtep: vtepFor(v, tunnel),
        table: vrfTable(v.spec.vni),
        ...(v.spec.hostSession ? { hostSession: hostSessionConfig(v, v.spec.hostSession, index) } : {}),
        importRTs: v.spec.importRTs ?? [],
        exportRTs: v.spec.exportRTs ?? [],
        gatewayNetworks: [],
      };
      l3vnis.push(cfg);
      l3ByObject.set(v, cfg);
    } catch (err) {
      fail(v, (err as Error).message);
    }
  }

  const l2vnis: L2VNIConfig[] = [];
  for (const v of accepted.l2vnis) {
    const domain = routingDomainOf(v, accepted.l3vnis);
    const domainCfg = domain ? l3ByObject.get(domain) : undefined;
    if (domain && !domainCfg) {
      fail(
        v,
        `L3 domain ${JSON.stringify(domain.metadata.name)} failed, see its own entry`,
        'DependencyFailed',
      );
      continue;
    }
    try {
      const gws = v.spec.gatewayIPs ?? [];
      const hm = v.spec.hostMaster?.linuxBridge;
      l2vnis.push({
        source: ref(v),
        vni: v.spec.vni,
        vxlanPort: v.spec.vxlanPort ?? 4789,
        vtep: vtepFor(v, tunnel),
        ...(domainCfg ? { vrf: domainCfg.vrf } : {}),
        gatewayIPs: gws,
        ...(gws.length > 0 ? { gatewayMac: gatewayMac(v.spec.vni) } : {}),
        ...(hm
          ? {
              hostBridge:
                hm.lifecycle === 'Managed'
                  ? { name: `br-hs-${v.spec.vni}`, managed: true }
                  : { name: hm.name!, managed: false },
            }
          : {}),
      });
      if (domainCfg) domainCfg.gatewayNetworks.push(...gws.map((g) => parseCidr(g).text));
    } catch (err) {
      fail(v, (err as Error).message);
    }
  }

  let passthrough: PassthroughConfig | undefined;
  const p = accepted.l3passthroughs[0];
  if (p) {
    try {
      passthrough = { source: ref(p), hostSession: hostSessionConfig(p, p.spec.hostSession, index) };
    } catch (err) {
      fail(p, (err as Error).message);
    }
  }

  let underlay: UnderlayConfig;
  try {
    underlay = underlayConfig(
      u,
      index,
      {
        passthroughFamilies: familiesOf(passthrough ? p?.spec.hostSession.localCIDR : undefined),
        hasVnis: l3vnis.length + l2vnis.length > 0,
        tunnelFamilies: familiesOf(tunnel),
      },
      opts,
    );
  } catch (err) {
    fail(u, (err as Error).message);
    return { failures };
  }

  for (const c of l3vnis) c.gatewayNetworks.sort();
  return {
    config: {
      node,
      underlay,
      l3vnis: l3vnis.sort((a, b) => (a.vrf < b.vrf ? -1 : a.vrf > b.vrf ? 1 : 0)), // code-unit order, locale-free
      l2vnis: l2vnis.sort((a, b) => a.vni - b.vni),
      ...(passthrough ? { passthrough } : {}),
      rawFrr: raw,
    },
    failures,
  };
}
