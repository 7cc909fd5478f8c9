// The desired kernel state of a node, as data. Produced by the pure renderer, consumed by the applier,
// which diffs it against what `ip -json` reports and writes only the difference.

export const ROUTER_NAMESPACE = 'perouter';

interface LinkBase {
  name: string;
  /** Enslaving device (VRF or bridge), in the same namespace. */
  master?: string;
  mtu?: number;
  /** Addresses with prefix length, e.g. 192.169.10.1/24. */
  addresses: string[];
  /** Fixed MAC address; absent = kernel's choice, never touched. */
  mac?: string;
  /**
   * true: `addrgenmode none`, no IPv6 link-local address (upstream sets it on bridges and VXLANs);
   * false: must have one (`addrgenmode eui64`); absent: whatever the namespace gives it, never changed.
   */
  noIpv6LinkLocal?: boolean;
}

export interface VrfLink extends LinkBase {
  type: 'vrf';
  table: number;
}

export interface BridgeLink extends LinkBase {
  type: 'bridge';
}

export interface VxlanLink extends LinkBase {
  type: 'vxlan';
  vni: number;
  local: string;
  dstport: number;
  /** Always false: FRR/EVPN programs the FDB (nolearning). */
  learning: false;
  /** Bridge-port flag neigh_suppress on (ARP/ND suppression from EVPN type-2 routes). */
  neighSuppress: true;
}

export interface VethLink extends LinkBase {
  type: 'veth';
  /** Name of the other end and the namespace it lives in. */
  peer: { name: string; namespace: 'host' | 'router' };
}

export type LinkSpec = VrfLink | BridgeLink | VxlanLink | VethLink;

export interface KernelPlan {
  /** Named network namespace FRR runs in (created if missing). */
  routerNamespace: string;
  /** sysctl key (dotted) -> value, inside the router namespace. */
  routerSysctls: Record<string, string>;
  /** Host devices moved into the router namespace with their addresses (moved back when no longer listed). */
  underlayInterfaces: string[];
  /** Tunnel endpoint addresses on the router namespace's `lo` (/32, /128). */
  loopbackAddresses: string[];
  /** Links owned by the agent inside the router namespace, in creation order (masters first). */
  routerLinks: LinkSpec[];
  /** Links owned by the agent in the host namespace, in creation order (masters first). */
  hostLinks: LinkSpec[];
  /** Veth host ends plugged into bridges the user owns (lifecycle External): only the port is ours. */
  externalBridgePorts: { bridge: string; port: string }[];
}
