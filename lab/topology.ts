// The one-machine EVPN lab, as data: every namespace, address, AS number and session of the fabric.
// lab.ts turns it into guest scripts and FRR configs (scripts.ts) and into the list of checks that say
// whether the lab converged (checks.ts). Shaped like upstream's test bed (upstream-behaviour.md §10):
//
//            hostA-red  hostA-blue  hostA-default        external hosts, one namespace each
//                 \         |          /
//                  leaf (AS 64512, VTEP 100.64.0.1)      VRFs red (VNI 100) / blue (VNI 200) + default
//                   br-nodes 192.168.11.2/24
//                  /                      \
//     toswitch .3 /                        \ toswitch .4
//   node-a-pe (FRR + our agent) ...      node-b-pe           router namespaces (AS 64514)
//     |  veths per VRF + passthrough       |
//   node-a (host: FRR "speaker" AS 64515)  node-b            host namespaces
//     |  br-hs-110                         |
//   node-a-wl (L2 workload)              node-b-wl
//
// Addresses of the router side of host sessions follow from the manifests (lab/manifests) and the
// node index: the router gets the first address of localCIDR, node index i gets address i + 2.

import { parseCidr } from '../src/ipam/ip.js';

export type Cidr = string;

export interface LeafVrf {
  name: string;
  vni: number;
  /** Kernel table of the leaf's VRF. */
  table: number;
  /** Bridge and VXLAN device names in the leaf. */
  bridge: string;
  vxlan: string;
}

export interface LeafSpec {
  namespace: string;
  asn: number;
  routerId: string;
  /** The leaf's VTEP (on its lo, advertised in the underlay). */
  vtep: string;
  /** Bridge the nodes' `toswitch` links plug into, and the leaf's address on it. */
  nodeBridge: string;
  nodeAddress: Cidr;
  vrfs: LeafVrf[];
  /** BFD towards the nodes: slow intervals, so that a busy one-vCPU guest does not flap sessions. */
  bfd: { transmitMs: number; receiveMs: number; multiplier: number };
}

export interface ExternalHost {
  namespace: string;
  /** The leaf VRF the host hangs off; undefined = the leaf's default table (passthrough). */
  vrf?: string;
  /** The leaf's end of the veth (the host's end is `eth0`). */
  leafInterface: string;
  /** Leaf-side addresses (the host's gateways). */
  leafAddresses: Cidr[];
  /** The host's addresses. */
  addresses: Cidr[];
}

/** One BGP session of a node's host speaker with the router, and what the speaker advertises on it. */
export interface SpeakerSession {
  /** `red`, `blue` (an L3VNI's VRF) or `default` (the L3Passthrough). */
  vrf: string;
  /** The router's address (PE side of the veth). */
  routerAddress: string;
  /** The speaker's address (host side of the veth). */
  localAddress: string;
  routerAsn: number;
  /** AS the router expects from the host on this session when it differs from the speaker's own. */
  localAs?: number;
  /** "Service" prefixes advertised on this session only (addresses on the host's lo). */
  services: Cidr[];
}

export interface Workload {
  namespace: string;
  /** Host end of the workload's veth, attached to `bridge` in the node's host namespace. */
  hostPort: string;
  /** The L2VNI's host bridge (br-hs-<VNI>, created by the agent). */
  bridge: string;
  address: Cidr;
  gateway: string;
  /** The L2VNI's routing domain (the workload reaches that VRF's external hosts through the gateway). */
  vrf: string;
}

export interface LabNode {
  name: string;
  index: number;
  /** Namespace playing the node's host (the agent's --host-namespace). */
  hostNamespace: string;
  /** Namespace FRR and the PE run in (the agent's --router-namespace). */
  routerNamespace: string;
  /** The node's NIC towards the leaf: its name, address, and the leaf's end of the veth. */
  underlay: { interface: string; address: Cidr; leafPort: string };
  /** The node's VTEP (first address of the Underlay's tunnel endpoint CIDR + index). */
  vtep: string;
  speaker: { asn: number; routerId: string; sessions: SpeakerSession[] };
  workload?: Workload;
}

export interface LabTopology {
  leaf: LeafSpec;
  externalHosts: ExternalHost[];
  nodes: LabNode[];
  /** Directory of the manifests every node starts with, relative to lab/. */
  manifests: string;
  /** AS number of the nodes' routers (the Underlay's asn). */
  routerAsn: number;
}

function node(name: string, index: number): LabNode {
  const host = index + 2;
  const letter = name.slice(-1);
  return {
    name,
    index,
    hostNamespace: name,
    routerNamespace: `${name}-pe`,
    underlay: { interface: 'toswitch', address: `192.168.11.${index + 3}/24`, leafPort: `to-${name}` },
    vtep: `100.65.0.${index}`,
    speaker: {
      asn: 64515,
      routerId: `10.100.0.${index + 1}`,
      sessions: [
        {
          vrf: 'red',
          routerAddress: '192.169.10.1',
          localAddress: `192.169.10.${host}`,
          routerAsn: 64514,
          services: [`10.100.1.${index + 1}/32`],
        },
        {
          vrf: 'red',
          routerAddress: '2001:db8:169:10::1',
          localAddress: `2001:db8:169:10::${host}`,
          routerAsn: 64514,
          services: [`2001:db8:100:1::${index + 1}/128`],
        },
        {
          vrf: 'blue',
          routerAddress: '192.169.11.1',
          localAddress: `192.169.11.${host}`,
          routerAsn: 64514,
          services: [`10.100.2.${index + 1}/32`],
        },
        {
          vrf: 'default',
          routerAddress: '192.169.50.1',
          localAddress: `192.169.50.${host}`,
          routerAsn: 64514,
          localAs: 64516,
          services: [`10.100.3.${index + 1}/32`],
        },
      ],
    },
    workload: {
      namespace: `${name}-wl`,
      hostPort: `wl-${letter}`,
      bridge: 'br-hs-110',
      address: `192.170.1.${index + 10}/24`,
      gateway: '192.170.1.1',
      vrf: 'red',
    },
  };
}

/** The default lab: upstream's test bed on one kernel. */
export const DEFAULT_TOPOLOGY: LabTopology = {
  leaf: {
    namespace: 'leaf',
    asn: 64512,
    routerId: '192.168.11.2',
    vtep: '100.64.0.1',
    nodeBridge: 'br-nodes',
    nodeAddress: '192.168.11.2/24',
    vrfs: [
      { name: 'red', vni: 100, table: 100, bridge: 'br100', vxlan: 'vxlan100' },
      { name: 'blue', vni: 200, table: 200, bridge: 'br200', vxlan: 'vxlan200' },
    ],
    bfd: { transmitMs: 1000, receiveMs: 1000, multiplier: 3 },
  },
  externalHosts: [
    {
      namespace: 'hostA-red',
      vrf: 'red',
      leafInterface: 'red-hostA',
      leafAddresses: ['192.168.20.1/24', '2001:db8:20::1/64'],
      addresses: ['192.168.20.2/24', '2001:db8:20::2/64'],
    },
    {
      namespace: 'hostA-blue',
      vrf: 'blue',
      leafInterface: 'blue-hostA',
      leafAddresses: ['192.168.21.1/24'],
      addresses: ['192.168.21.2/24'],
    },
    {
      namespace: 'hostA-default',
      leafInterface: 'def-hostA',
      leafAddresses: ['192.168.22.1/24'],
      addresses: ['192.168.22.2/24'],
    },
  ],
  nodes: [node('node-a', 0), node('node-b', 1)],
  manifests: 'manifests',
  routerAsn: 64514,
};

/** `192.168.20.2/24` → `192.168.20.2`. */
export function addressOf(cidr: Cidr): string {
  return cidr.split('/')[0] ?? cidr;
}

export function isIpv6(address: string): boolean {
  return address.includes(':');
}

/** The network of an interface address: `192.168.20.1/24` → `192.168.20.0/24` (canonical text). */
export function networkOf(cidr: Cidr): Cidr {
  return parseCidr(cidr).text;
}

/** Every namespace of the lab, in creation order. */
export function namespaces(t: LabTopology): string[] {
  return [
    t.leaf.namespace,
    ...t.externalHosts.map((h) => h.namespace),
    ...t.nodes.flatMap((n) => [
      n.hostNamespace,
      n.routerNamespace,
      ...(n.workload ? [n.workload.namespace] : []),
    ]),
  ];
}

export function findNode(t: LabTopology, name: string): LabNode {
  const n = t.nodes.find((x) => x.name === name);
  if (n === undefined)
    throw new Error(`no node ${name} in the lab (have ${t.nodes.map((x) => x.name).join(', ')})`);
  return n;
}
