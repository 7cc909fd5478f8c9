// The kinds of network.openperouter.io/v1alpha1 and their schemas.
import type { TSchema } from '@sinclair/typebox';
import { EmptyStatus, RouterNodeConfigurationStatusStatus } from './schema/status.js';
import { UnderlaySpec } from './schema/underlay.js';
import { L2VNISpec, L3PassthroughSpec, L3VNISpec, L3VPNSpec, RawFRRConfigSpec } from './schema/vni.js';

export const GROUP = 'network.openperouter.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
}

export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  description: string;
  spec?: TSchema;
  status: TSchema;
  printerColumns?: PrinterColumn[];
}

export const KINDS = {
  Underlay: {
    kind: 'Underlay',
    plural: 'underlays',
    singular: 'underlay',
    listKind: 'UnderlayList',
    description:
      "The router's default-VRF BGP speaker: its links to the fabric, its neighbors and its per-node router-id and tunnel endpoint pools. At most one Underlay may select a node.",
    spec: UnderlaySpec,
    status: EmptyStatus,
  },
  L3VNI: {
    kind: 'L3VNI',
    plural: 'l3vnis',
    singular: 'l3vni',
    listKind: 'L3VNIList',
    description:
      'An EVPN type-5 routing domain: a Linux VRF and an L3 VXLAN VNI in the router namespace, optionally with a veth and a BGP session to the host.',
    spec: L3VNISpec,
    status: EmptyStatus,
  },
  L2VNI: {
    kind: 'L2VNI',
    plural: 'l2vnis',
    singular: 'l2vni',
    listKind: 'L2VNIList',
    description:
      'An EVPN type-2/3 stretched layer-2 segment: a VXLAN VNI and a bridge in the router namespace with a veth to the host, optionally attached to a routing domain with a distributed anycast gateway.',
    spec: L2VNISpec,
    status: EmptyStatus,
  },
  L3Passthrough: {
    kind: 'L3Passthrough',
    plural: 'l3passthroughs',
    singular: 'l3passthrough',
    listKind: 'L3PassthroughList',
    description:
      "An unencapsulated leg between the host and the router's default VRF, with a BGP session to a host speaker. At most one per node.",
    spec: L3PassthroughSpec,
    status: EmptyStatus,
  },
  L3VPN: {
    kind: 'L3VPN',
    plural: 'l3vpns',
    singular: 'l3vpn',
    listKind: 'L3VPNList',
    description: 'An SRv6 IP-VPN routing domain (not supported yet by this implementation).',
    spec: L3VPNSpec,
    status: EmptyStatus,
  },
  RawFRRConfig: {
    kind: 'RawFRRConfig',
    plural: 'rawfrrconfigs',
    singular: 'rawfrrconfig',
    listKind: 'RawFRRConfigList',
    description: 'FRR configuration text appended verbatim after the generated configuration (experimental).',
    spec: RawFRRConfigSpec,
    status: EmptyStatus,
  },
  RouterNodeConfigurationStatus: {
    kind: 'RouterNodeConfigurationStatus',
    plural: 'routernodeconfigurationstatuses',
    singular: 'routernodeconfigurationstatus',
    listKind: 'RouterNodeConfigurationStatusList',
    description: 'Per-node health of the router configuration, written by the node agent.',
    status: RouterNodeConfigurationStatusStatus,
    printerColumns: [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Degraded', type: 'string', jsonPath: '.status.conditions[?(@.type=="Degraded")].status' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
} as const satisfies Record<string, KindInfo>;

export type KindName = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as KindName[];

export function isKindName(s: unknown): s is KindName {
  return typeof s === 'string' && Object.hasOwn(KINDS, s);
}
