// TypeScript shapes of the API objects, derived from the schemas.
import type { RouterNodeConfigurationStatusStatus } from './schema/status.js';
import type { UnderlaySpec } from './schema/underlay.js';
import type { L2VNISpec, L3PassthroughSpec, L3VNISpec, L3VPNSpec, RawFRRConfigSpec } from './schema/vni.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
}

/** Where an object was read from, for error messages (file and document index). */
export interface SourceRef {
  file: string;
  document: number;
}

interface ApiObject<K extends string, S> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  source?: SourceRef;
}

export type Underlay = ApiObject<'Underlay', UnderlaySpec>;
export type L3VNI = ApiObject<'L3VNI', L3VNISpec>;
export type L2VNI = ApiObject<'L2VNI', L2VNISpec>;
export type L3Passthrough = ApiObject<'L3Passthrough', L3PassthroughSpec>;
export type L3VPN = ApiObject<'L3VPN', L3VPNSpec>;
export type RawFRRConfig = ApiObject<'RawFRRConfig', RawFRRConfigSpec>;
export interface RouterNodeConfigurationStatus {
  apiVersion: string;
  kind: 'RouterNodeConfigurationStatus';
  metadata: ObjectMeta;
  status?: RouterNodeConfigurationStatusStatus;
}

export type RoutingObject = Underlay | L3VNI | L2VNI | L3Passthrough | L3VPN | RawFRRConfig;

/** Every routing object of a cluster (or a static directory), grouped by kind. */
export interface ApiSnapshot {
  underlays: Underlay[];
  l3vnis: L3VNI[];
  l2vnis: L2VNI[];
  l3passthroughs: L3Passthrough[];
  l3vpns: L3VPN[];
  rawFRRConfigs: RawFRRConfig[];
}

export function emptySnapshot(): ApiSnapshot {
  return { underlays: [], l3vnis: [], l2vnis: [], l3passthroughs: [], l3vpns: [], rawFRRConfigs: [] };
}

export function objectKey(o: { kind: string; metadata: ObjectMeta }): string {
  return `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`.replace(' /', ' ');
}

/** `namespace/name` (or `name` when cluster-scoped / namespace unknown). */
export function nsName(m: ObjectMeta): string {
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

export type { HostSession, LocalCIDR } from './schema/hostsession.js';
export type { BFDSettings, Neighbor, UnderlayInterface } from './schema/underlay.js';
export type { HostMaster } from './schema/vni.js';
export type { L2VNISpec, L3PassthroughSpec, L3VNISpec, L3VPNSpec, RawFRRConfigSpec, UnderlaySpec };
