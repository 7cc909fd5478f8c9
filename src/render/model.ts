// The resolved configuration of one node: what survived validation for this node, with every per-node
// value (router id, tunnel endpoint, veth addresses, table ids) already computed. Both the FRR renderer
// and the kernel renderer read only this, so they can never disagree about what the node runs.

/** Facts about the node the configuration is computed for. */
export interface NodeFacts {
  name: string;
  /** Persistent node index (annotation openpe.io/nodeindex, or the static node file). */
  index: number;
  labels: Record<string, string>;
  /** Hostname FRR reports (FRR 8.4 prints the system hostname whatever the config says). Default: name. */
  hostname?: string;
  /** Smallest MTU of the underlay interfaces; veths and VXLANs get this minus the VXLAN overhead. Default 1500. */
  underlayMtu?: number;
  /** FRR log level (debug, informational, notifications, warnings, errors). Default informational. */
  logLevel?: FrrLogLevel;
}

export type FrrLogLevel = 'debugging' | 'informational' | 'notifications' | 'warnings' | 'errors';

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

export type AddressFamily = 'ipv4unicast' | 'ipv6unicast' | 'evpn';

export interface NeighborConfig {
  /** FRR neighbor id: the peer address. */
  id: string;
  family: 4 | 6;
  remoteAs: number | 'external' | 'internal';
  /** iBGP: the numeric ASN equals ours, or type Internal. */
  ibgp: boolean;
  port?: number;
  password?: string;
  holdTime?: number;
  keepaliveTime?: number;
  connectTime?: number;
  ebgpMultihop?: { ttl?: number };
  bfd?: { profile?: BfdProfile };
  addressFamilies: AddressFamily[];
  /** IPv6 peer carrying IPv4 unicast: advertise IPv4 routes with an IPv6 next hop (RFC 8950). */
  extendedNexthop: boolean;
}

export interface BfdProfile {
  name: string;
  receiveInterval?: number;
  transmitInterval?: number;
  detectMultiplier?: number;
  passive?: boolean;
  minimumTtl?: number;
}

export interface VethAddresses {
  /** Router-side address with the pool's prefix length, e.g. 192.169.10.1/24. */
  router: string;
  /** Host-side address of this node, e.g. 192.169.10.3/24. */
  host: string;
}

export interface HostSessionConfig {
  /** Router-side AS (for an L3VNI also the AS of the VRF's BGP instance). */
  asn: number;
  remoteAs: number | 'external' | 'internal';
  ibgp: boolean;
  ipv4?: VethAddresses;
  ipv6?: VethAddresses;
}

export interface UnderlayConfig {
  source: ObjectRef;
  asn: number;
  routerId: string;
  /** Host NICs moved into the router namespace. */
  interfaces: string[];
  tunnelEndpoint?: { ipv4?: string; ipv6?: string };
  neighbors: NeighborConfig[];
  gracefulRestart?: { restartTime: number; stalePathTime: number };
}

export interface L3VNIConfig {
  source: ObjectRef;
  vrf: string;
  vni: number;
  vxlanPort: number;
  /** Local VXLAN source address (the node's tunnel endpoint of the chosen family). */
  vtep: string;
  /** Kernel routing table of the VRF. */
  table: number;
  hostSession?: HostSessionConfig;
  importRTs: string[];
  exportRTs: string[];
  /** Networks of the anycast gateways of L2VNIs in this VRF, advertised as type-5 routes. */
  gatewayNetworks: string[];
}

export interface L2VNIConfig {
  source: ObjectRef;
  vni: number;
  vxlanPort: number;
  vtep: string;
  /** VRF the segment's bridge is enslaved to (routing domain); absent = disconnected overlay. */
  vrf?: string;
  /** Anycast gateway addresses (IP/prefix) on the router-side bridge. */
  gatewayIPs: string[];
  /** Stable MAC of the router-side bridge when it carries a gateway (same on every node). */
  gatewayMac?: string;
  /** Host bridge the host end of the veth is plugged into. */
  hostBridge?: { name: string; managed: boolean };
}

export interface PassthroughConfig {
  source: ObjectRef;
  hostSession: HostSessionConfig;
}

export interface NodeConfig {
  node: Required<Pick<NodeFacts, 'name' | 'index' | 'hostname' | 'underlayMtu' | 'logLevel'>> & {
    labels: Record<string, string>;
  };
  underlay?: UnderlayConfig;
  /** Sorted by VRF name. */
  l3vnis: L3VNIConfig[];
  /** Sorted by VNI. */
  l2vnis: L2VNIConfig[];
  passthrough?: PassthroughConfig;
  /** RawFRRConfig texts in ascending priority (ties by namespace/name). */
  rawFrr: string[];
}

/** Bytes VXLAN adds over IPv4 (IPv6 VTEPs add 70; upstream uses 50 for both, and so do we). */
export const VXLAN_OVERHEAD = 50;
export const MIN_IPV6_MTU = 1280;
