// Pure kernel renderer: the resolved node configuration in, the desired kernel state out. Everything that
// depends on the machine (what exists already, which commands to run) belongs to the applier.
import { ipFamily } from '../ipam/index.js';
import {
  type BridgeLink,
  type KernelPlan,
  type LinkSpec,
  ROUTER_NAMESPACE,
  type VethLink,
  type VrfLink,
  type VxlanLink,
} from '../kernel/model.js';
import {
  hostVethName,
  invalidIfnameReason,
  PASSTHROUGH_HOST_VETH,
  PASSTHROUGH_ROUTER_VETH,
  routerBridgeName,
  routerVethName,
  vxlanName,
} from './kernel-names.js';
import {
  type HostSessionConfig,
  type L2VNIConfig,
  type L3VNIConfig,
  MIN_IPV6_MTU,
  type NodeConfig,
  type ObjectRef,
  VXLAN_OVERHEAD,
} from './model.js';

export * from './kernel-names.js';

/**
 * The input broke an invariant the resolver guarantees (duplicate names, a VRF nobody creates, ...).
 * Never caused by user input alone: validation and resolution must have rejected it earlier.
 */
export class KernelRenderError extends Error {
  override name = 'KernelRenderError';
}

/** Sysctls of the router namespace. A new namespace starts with all of them 0. */
export const ROUTER_SYSCTLS: Readonly<Record<string, string>> = Object.freeze({
  // Without IPv4 forwarding the L3VNI (type-5) path is broken; the L2 path is not.
  'net.ipv4.conf.all.forwarding': '1',
  'net.ipv6.conf.all.forwarding': '1',
  // Let gratuitous ARP / unsolicited NA create neighbour entries, so EVPN learns hosts that announce themselves.
  'net.ipv4.conf.all.arp_accept': '1',
  'net.ipv4.conf.default.arp_accept': '1',
  'net.ipv6.conf.all.accept_untracked_na': '1',
  'net.ipv6.conf.default.accept_untracked_na': '1',
  // With 0, a second VRF on an existing table id makes zebra exit; with 1 the kernel refuses the VRF instead.
  'net.vrf.strict_mode': '1',
  // Links created in the namespace get no IPv6 link-local address (as upstream wants on its bridges and
  // VXLANs), so they can come up on their creation line; the few that need one get `addrgenmode eui64`.
  'net.ipv6.conf.default.addr_gen_mode': '1',
});

/**
 * MTU of the VXLANs and of the veths behind them: what is left of the underlay MTU after VXLAN
 * encapsulation, but never below the IPv6 minimum, which every link carrying IPv6 must support.
 */
export function overlayMtu(underlayMtu: number): number {
  return Math.max(underlayMtu - VXLAN_OVERHEAD, MIN_IPV6_MTU);
}

function objectLabel(source: ObjectRef): string {
  const name = source.namespace === undefined ? source.name : `${source.namespace}/${source.name}`;
  return `${source.kind} ${name}`;
}

/** Addresses of one side of a host session, IPv4 first. */
function sessionAddresses(session: HostSessionConfig, side: 'router' | 'host'): string[] {
  const addresses: string[] = [];
  if (session.ipv4 !== undefined) addresses.push(session.ipv4[side]);
  if (session.ipv6 !== undefined) addresses.push(session.ipv6[side]);
  return addresses;
}

interface VethEnd {
  name: string;
  master?: string;
  addresses: string[];
  /** Needs an IPv6 link-local address (it routes: BGP and neighbour discovery run over it). */
  ipv6LinkLocal?: boolean;
}

/** Both ends of a veth pair: [router end, host end]. */
function vethPair(routerEnd: VethEnd, hostEnd: VethEnd, mtu: number): [VethLink, VethLink] {
  const end = (self: VethEnd, peer: VethEnd, peerNamespace: 'host' | 'router'): VethLink => ({
    type: 'veth',
    name: self.name,
    ...(self.master === undefined ? {} : { master: self.master }),
    mtu,
    addresses: [...self.addresses],
    ...(self.ipv6LinkLocal === true ? { noIpv6LinkLocal: false } : {}),
    peer: { name: peer.name, namespace: peerNamespace },
  });
  return [end(routerEnd, hostEnd, 'host'), end(hostEnd, routerEnd, 'router')];
}

function vxlanLink(vni: L3VNIConfig | L2VNIConfig, mtu: number): VxlanLink {
  return {
    type: 'vxlan',
    name: vxlanName(vni.vni),
    master: routerBridgeName(vni.vni),
    mtu,
    addresses: [],
    // A bridge port carries no IP of its own, so it needs no link-local address either.
    noIpv6LinkLocal: true,
    vni: vni.vni,
    local: vni.vtep,
    dstport: vni.vxlanPort,
    learning: false,
    neighSuppress: true,
  };
}

function l3vniLinks(l3: L3VNIConfig, mtu: number): { router: LinkSpec[]; host: LinkSpec[] } {
  const vrf: VrfLink = { type: 'vrf', name: l3.vrf, addresses: [], table: l3.table };
  const bridge: BridgeLink = {
    type: 'bridge',
    name: routerBridgeName(l3.vni),
    master: l3.vrf,
    addresses: [],
    noIpv6LinkLocal: true,
  };
  const router: LinkSpec[] = [vrf, bridge, vxlanLink(l3, mtu)];
  const host: LinkSpec[] = [];
  if (l3.hostSession !== undefined) {
    const [routerVeth, hostVeth] = vethPair(
      {
        name: routerVethName(l3.vni),
        master: l3.vrf,
        addresses: sessionAddresses(l3.hostSession, 'router'),
        ipv6LinkLocal: true,
      },
      { name: hostVethName(l3.vni), addresses: sessionAddresses(l3.hostSession, 'host') },
      mtu,
    );
    router.push(routerVeth);
    host.push(hostVeth);
  }
  return { router, host };
}

interface L2Links {
  router: LinkSpec[];
  host: LinkSpec[];
  externalBridgePort?: { bridge: string; port: string };
}

function l2vniLinks(l2: L2VNIConfig, mtu: number): L2Links {
  const what = `${objectLabel(l2.source)} (VNI ${l2.vni})`;
  const hasGateway = l2.gatewayIPs.length > 0;
  if (hasGateway && l2.vrf === undefined) {
    // The gateway addresses would land in the router namespace's default table, i.e. the underlay.
    throw new KernelRenderError(`${what}: has gateway IPs but no VRF; a gateway requires a routing domain`);
  }
  if (hasGateway && l2.gatewayMac === undefined) {
    throw new KernelRenderError(`${what}: has gateway IPs but no gateway MAC`);
  }
  const hasIpv6Gateway = l2.gatewayIPs.some((address) => ipFamily(address) === 6);
  const bridge: BridgeLink = {
    type: 'bridge',
    name: routerBridgeName(l2.vni),
    ...(l2.vrf === undefined ? {} : { master: l2.vrf }),
    addresses: [...l2.gatewayIPs],
    ...(hasGateway && l2.gatewayMac !== undefined ? { mac: l2.gatewayMac } : {}),
    // An IPv6 anycast gateway must keep its link-local: router advertisements are sent from a link-local
    // source (RFC 4861 §4.2) and hosts use that address as their default router. Derived from the fixed
    // gateway MAC, it is the same on every node, as an anycast gateway should be. Without an IPv6 gateway
    // the bridge needs no IPv6 address at all, as on the L3VNI bridges.
    noIpv6LinkLocal: !hasIpv6Gateway,
  };
  const router: LinkSpec[] = [bridge, vxlanLink(l2, mtu)];
  const host: LinkSpec[] = [];
  const hostBridge = l2.hostBridge;
  if (hostBridge?.managed === true) {
    host.push({ type: 'bridge', name: hostBridge.name, mtu, addresses: [] });
  }
  const [routerVeth, hostVeth] = vethPair(
    { name: routerVethName(l2.vni), master: bridge.name, addresses: [] },
    {
      name: hostVethName(l2.vni),
      ...(hostBridge?.managed === true ? { master: hostBridge.name } : {}),
      addresses: [],
    },
    mtu,
  );
  router.push(routerVeth);
  host.push(hostVeth);
  if (hostBridge !== undefined && !hostBridge.managed) {
    return { router, host, externalBridgePort: { bridge: hostBridge.name, port: hostVeth.name } };
  }
  return { router, host };
}

/**
 * Checks the invariants the applier relies on: valid unique names per namespace, and every master
 * created before its slaves. `preexisting` are names already in the namespace that the plan does not create.
 */
function checkLinks(namespace: string, links: readonly LinkSpec[], preexisting: readonly string[]): void {
  const seen = new Map<string, LinkSpec | undefined>();
  for (const name of preexisting) seen.set(name, undefined);
  for (const link of links) {
    const reason = invalidIfnameReason(link.name);
    if (reason !== undefined) {
      throw new KernelRenderError(`${namespace} namespace: link name "${link.name}" is invalid: ${reason}`);
    }
    if (seen.has(link.name)) {
      throw new KernelRenderError(`${namespace} namespace: link name "${link.name}" is used twice`);
    }
    if (link.master !== undefined) {
      const master = seen.get(link.master);
      if (master === undefined || (master.type !== 'vrf' && master.type !== 'bridge')) {
        throw new KernelRenderError(
          `${namespace} namespace: "${link.name}" is enslaved to "${link.master}", ` +
            'which is not a VRF or bridge created before it',
        );
      }
    }
    seen.set(link.name, link);
  }
}

export function renderKernel(cfg: NodeConfig): KernelPlan {
  const underlay = cfg.underlay;
  const endpoint = underlay?.tunnelEndpoint;
  const vteps: string[] = [];
  if (endpoint?.ipv4 !== undefined) vteps.push(endpoint.ipv4);
  if (endpoint?.ipv6 !== undefined) vteps.push(endpoint.ipv6);
  const loopbackAddresses = vteps.map((address) => `${address}/${ipFamily(address) === 4 ? 32 : 128}`);

  const mtu = overlayMtu(cfg.node.underlayMtu);
  const routerLinks: LinkSpec[] = [];
  const hostLinks: LinkSpec[] = [];
  const externalBridgePorts: KernelPlan['externalBridgePorts'] = [];
  const checkVtep = (vni: L3VNIConfig | L2VNIConfig): void => {
    // The VXLAN's source must be an address on the namespace's `lo`, or its packets leave with a source
    // the fabric does not route back.
    if (!vteps.includes(vni.vtep)) {
      const known = vteps.length === 0 ? 'the node has none' : `the node has ${vteps.join(', ')}`;
      throw new KernelRenderError(
        `${objectLabel(vni.source)} (VNI ${vni.vni}): VXLAN source ${vni.vtep} is not a tunnel endpoint (${known})`,
      );
    }
  };

  const vrfTables = new Map<string, number>();
  const vrfByTable = new Map<number, string>();
  for (const l3 of cfg.l3vnis) {
    checkVtep(l3);
    const other = vrfByTable.get(l3.table);
    if (other !== undefined) {
      // With strict_mode=1 the kernel would refuse the second VRF.
      throw new KernelRenderError(`VRFs "${other}" and "${l3.vrf}" both use routing table ${l3.table}`);
    }
    vrfByTable.set(l3.table, l3.vrf);
    vrfTables.set(l3.vrf, l3.table);
    const links = l3vniLinks(l3, mtu);
    routerLinks.push(...links.router);
    hostLinks.push(...links.host);
  }
  for (const l2 of cfg.l2vnis) {
    checkVtep(l2);
    if (l2.vrf !== undefined && !vrfTables.has(l2.vrf)) {
      throw new KernelRenderError(
        `${objectLabel(l2.source)} (VNI ${l2.vni}): VRF "${l2.vrf}" is not created by any L3VNI of this node`,
      );
    }
    const links = l2vniLinks(l2, mtu);
    routerLinks.push(...links.router);
    hostLinks.push(...links.host);
    if (links.externalBridgePort !== undefined) externalBridgePorts.push(links.externalBridgePort);
  }
  if (cfg.passthrough !== undefined) {
    const session = cfg.passthrough.hostSession;
    // No encapsulation on this path: the full underlay MTU is available.
    const [routerVeth, hostVeth] = vethPair(
      { name: PASSTHROUGH_ROUTER_VETH, addresses: sessionAddresses(session, 'router'), ipv6LinkLocal: true },
      { name: PASSTHROUGH_HOST_VETH, addresses: sessionAddresses(session, 'host') },
      cfg.node.underlayMtu,
    );
    routerLinks.push(routerVeth);
    hostLinks.push(hostVeth);
  }

  const underlayInterfaces = [...(underlay?.interfaces ?? [])];
  checkLinks('router', routerLinks, ['lo', ...underlayInterfaces]);
  checkLinks('host', hostLinks, []);
  const hostLinkNames = new Set(hostLinks.map((link) => link.name));
  for (const { bridge } of externalBridgePorts) {
    if (hostLinkNames.has(bridge)) {
      // The agent would create, and later delete, a bridge the user owns.
      throw new KernelRenderError(
        `host namespace: external bridge "${bridge}" is also a link the agent creates`,
      );
    }
  }

  return {
    routerNamespace: ROUTER_NAMESPACE,
    routerSysctls: { ...ROUTER_SYSCTLS },
    underlayInterfaces,
    loopbackAddresses,
    routerLinks,
    hostLinks,
    externalBridgePorts,
  };
}
