// validateObject: every CEL rule of every schema (table test with a coverage check), schema-level checks,
// apiVersion/kind handling, route targets, per-object semantic rules, "not supported yet" rejections and
// the example manifests of api.md §7 (examples/api/*.yaml).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { evaluateRule, ruleUsesOldSelf } from '../src/api/cel.js';
import type { ValidationIssue } from '../src/api/issues.js';
import { KIND_NAMES, type KindName } from '../src/api/kinds.js';
import { applyDefaults, type JsonSchema } from '../src/api/schema-walk.js';
import type { RoutingObject } from '../src/api/types.js';
import { objectSchema, validateObject } from '../src/api/validate-object.js';

type Doc = Record<string, unknown>;

const API = 'network.openperouter.io/v1alpha1';
const NS = 'openperouter-system';

// ---------------------------------------------------------------------------------------------------------
// Builders. Each call returns a fresh object, so cases never share (or mutate) nested values.

function obj(kind: string, name: string, spec: Doc): Doc {
  return { apiVersion: API, kind, metadata: { name, namespace: NS }, spec };
}
const nic = (interfaceName = 'toswitch'): Doc => ({
  type: 'NetworkDevice',
  networkDevice: { interfaceName },
});
const cniDevice = (extra: Doc = {}): Doc => ({
  type: 'RawConfig',
  rawConfig: {
    cniVersion: '1.0.0',
    name: 'macvlan-underlay',
    plugins: [{ type: 'macvlan', master: 'eth1', ipam: { type: 'static' } }],
  },
  ...extra,
});
const cniIface = (extra: Doc = {}): Doc => ({ type: 'CNIDevice', cniDevice: cniDevice(extra) });
const tor = (): Doc => ({ asn: 64512, address: '192.168.11.2' });
/** V5's Underlay (no tunnel endpoint) plus `spec` overrides. */
const underlay = (spec: Doc = {}): Doc =>
  obj('Underlay', 'underlay', { asn: 64514, interfaces: [nic()], neighbors: [tor()], ...spec });
const withNeighbor = (n: Doc): Doc => underlay({ neighbors: [n] });
const isis = (extra: Doc = {}): Doc => ({ baseNet: '49.0001.0002.0003.0004.00', ...extra });
const srv6 = (basePrefix = 'fd00:0:32::/48'): Doc => ({ locator: { basePrefix, format: 'usid-f3216' } });
const dualTunnelEndpoint = (): Doc => ({ cidrs: ['100.65.0.0/24', 'fd00:65::/64'] });
const srv6Underlay = (): Doc =>
  underlay({ tunnelEndpoint: dualTunnelEndpoint(), isis: isis(), srv6: srv6() });
const hostSession = (hs: Doc = {}): Doc => ({
  asn: 64514,
  hostASN: 64515,
  localCIDR: { ipv4: '192.169.10.0/24' },
  ...hs,
});
const l3vni = (spec: Doc = {}): Doc =>
  obj('L3VNI', 'red', { vrf: 'red', vni: 100, hostSession: hostSession(), ...spec });
const l2vni = (spec: Doc = {}): Doc =>
  obj('L2VNI', 'web', {
    vni: 1100,
    routingDomain: { type: 'L3VNI', l3vni: { name: 'red' } },
    gatewayIPs: ['10.100.0.1/24'],
    hostMaster: { type: 'LinuxBridge', linuxBridge: { lifecycle: 'Managed' } },
    ...spec,
  });
const passthrough = (spec: Doc = {}): Doc =>
  obj('L3Passthrough', 'passthrough', { hostSession: hostSession(), ...spec });
const l3vpn = (spec: Doc = {}): Doc =>
  obj('L3VPN', 'red', {
    vrf: 'red',
    rdAssignedNumber: 100,
    importRTs: ['64520:100'],
    hostSession: hostSession(),
    ...spec,
  });
const rawFRR = (spec: Doc = {}): Doc =>
  obj('RawFRRConfig', 'snippet', { rawConfig: 'ip prefix-list a seq 5 permit any\n', ...spec });

// ---------------------------------------------------------------------------------------------------------
// Issue helpers: issues are compared as "field: message" strings (just the message when the field is empty).

const fmt = (i: ValidationIssue): string => (i.field ? `${i.field}: ${i.message}` : i.message);
const ns = (path: string): string => `${path}: not supported yet: ${path}`;
const L3VPN_NOT_SUPPORTED = 'not supported yet: kind L3VPN';

function issuesOf(doc: unknown, old?: Doc): string[] {
  return validateObject(doc, old ? { old: old as unknown as RoutingObject } : {}).issues.map(fmt);
}

/** Validates and returns the defaulted object; fails the test when there is any issue. */
function validObject(doc: Doc): RoutingObject {
  const v = validateObject(doc);
  assert.deepEqual(v.issues.map(fmt), []);
  assert.ok(v.object, 'a valid document must yield its object');
  return v.object;
}

function specOf(o: RoutingObject): Record<string, unknown> {
  return o.spec as unknown as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// a. Every CEL rule of every schema.

interface RuleSite {
  kind: KindName;
  /** Schema path of the node carrying the rule; `[]` stands for "every item". */
  at: string;
  rule: string;
  message: string;
}

function collectRules(schema: JsonSchema, at: string, kind: KindName, out: RuleSite[]): RuleSite[] {
  for (const r of schema['x-kubernetes-validations'] ?? [])
    out.push({ kind, at, rule: r.rule, message: r.message });
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    collectRules(sub, at ? `${at}.${key}` : key, kind, out);
  }
  if (schema.items) collectRules(schema.items, `${at}[]`, kind, out);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    collectRules(schema.additionalProperties, `${at}[*]`, kind, out);
  }
  return out;
}

const RULE_SITES: RuleSite[] = KIND_NAMES.flatMap((k) => collectRules(objectSchema(k), '', k, []));
const siteKey = (s: { kind: string; at: string; message: string }): string =>
  `${s.kind} ${s.at} | ${s.message}`;

/** All values found at a schema path such as `spec.neighbors[].address`. */
function valuesAt(root: unknown, at: string): unknown[] {
  let current: unknown[] = [root];
  for (const seg of at.split('.')) {
    const list = seg.endsWith('[]');
    const key = list ? seg.slice(0, -2) : seg;
    const next: unknown[] = [];
    for (const v of current) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
      const child = (v as Record<string, unknown>)[key];
      if (child === undefined) continue;
      if (!list) next.push(child);
      else if (Array.isArray(child)) next.push(...(child as unknown[]));
    }
    current = next;
  }
  return current;
}

const schemaPathOf = (field: string): string => field.replace(/\[\d+\]/g, '[]');

interface Fire {
  doc: Doc;
  /** The stored object, for transition rules (oldSelf). */
  old?: Doc;
  /** Field the rule's message must be reported on. */
  field: string;
}

interface CelCase {
  kind: KindName;
  at: string;
  message: string;
  /** A document where the rule's node is present and the rule holds. */
  base: Doc;
  baseOld?: Doc;
  /** Exact issues of `base` (only "not supported yet" ones, when it uses an unsupported feature). */
  baseIssues?: string[];
  /** Documents where the rule fails: each yields exactly that one issue. */
  fires: Fire[];
}

/** A rule that a schema-valid object can never violate: checked by evaluating it directly. */
interface UnreachableCelCase {
  kind: KindName;
  at: string;
  message: string;
  why: string;
  base: Doc;
  holdsFor: unknown;
  failsFor: unknown;
  /** What validateObject reports instead for the failing value (a schema error). */
  structural: { doc: Doc; issues: string[] };
}

/** The four rules of HostSession/LocalCIDR, for a kind whose document is built by `build(hostSession)`. */
function hostSessionCases(kind: KindName, build: (hs: Doc) => Doc, baseIssues: string[] = []): CelCase[] {
  const base = build(hostSession());
  return [
    {
      kind,
      at: 'spec.hostSession',
      message: 'either HostASN or HostType must be set',
      base,
      baseIssues,
      fires: [
        { doc: build({ asn: 64514, localCIDR: { ipv4: '192.169.10.0/24' } }), field: 'spec.hostSession' },
      ],
    },
    {
      kind,
      at: 'spec.hostSession',
      message: 'either HostASN or HostType must be set',
      base: build({ asn: 64514, hostType: 'External', localCIDR: { ipv4: '192.169.10.0/24' } }),
      baseIssues,
      fires: [],
    },
    {
      kind,
      at: 'spec.hostSession',
      message: 'HostASN and HostType cannot be set together',
      base,
      baseIssues,
      fires: [{ doc: build(hostSession({ hostType: 'Internal' })), field: 'spec.hostSession' }],
    },
    {
      kind,
      at: 'spec.hostSession.localCIDR',
      message: 'at least one of ipv4 or ipv6 must be specified',
      base: build(hostSession({ localCIDR: { ipv6: '2001:db8:169:10::/64' } })),
      baseIssues,
      fires: [{ doc: build(hostSession({ localCIDR: {} })), field: 'spec.hostSession.localCIDR' }],
    },
    {
      kind,
      at: 'spec.hostSession.localCIDR',
      message: "LocalCIDR can't be changed",
      base,
      baseOld: build(hostSession()),
      baseIssues,
      fires: [
        {
          doc: build(hostSession({ localCIDR: { ipv4: '192.169.11.0/24' } })),
          old: build(hostSession()),
          field: 'spec.hostSession.localCIDR',
        },
        {
          doc: build(hostSession({ localCIDR: { ipv4: '192.169.10.0/24', ipv6: '2001:db8:169:10::/64' } })),
          old: build(hostSession()),
          field: 'spec.hostSession.localCIDR',
        },
      ],
    },
  ];
}

const NEIGHBOR_PROPERTY_RULE_MESSAGE = 'ebgpMultiHop parameters can only be set when type is ebgpMultiHop';
const rrClientNeighbor = (n: Doc): Doc => ({
  address: '192.168.11.3',
  addressFamilies: [{ type: 'evpn', properties: [{ type: 'routeReflectorClient' }] }],
  ...n,
});
const rrClientIssues = [ns('spec.neighbors[0].addressFamilies[0].properties[0]')];
const v12Neighbor = (): Doc => ({
  asn: 64520,
  address: '2001:db8:1234::1',
  properties: [{ type: 'ebgpMultiHop' }],
  addressFamilies: [{ type: 'ipv6unicast' }, { type: 'ipv4vpn' }, { type: 'ipv6vpn' }],
});

const CEL_CASES: CelCase[] = [
  // ---- Underlay.spec
  {
    kind: 'Underlay',
    at: 'spec',
    message: 'SRv6 can only be configured if isis is set',
    base: srv6Underlay(),
    baseIssues: [ns('spec.isis'), ns('spec.srv6')],
    fires: [{ doc: underlay({ tunnelEndpoint: dualTunnelEndpoint(), srv6: srv6() }), field: 'spec' }],
  },
  {
    kind: 'Underlay',
    at: 'spec',
    message: 'SRv6 requires at least one IPv6 CIDR in tunnelEndpoint.cidrs',
    base: srv6Underlay(),
    baseIssues: [ns('spec.isis'), ns('spec.srv6')],
    fires: [
      {
        doc: underlay({ tunnelEndpoint: { cidrs: ['100.65.0.0/24'] }, isis: isis(), srv6: srv6() }),
        field: 'spec',
      },
      { doc: underlay({ isis: isis(), srv6: srv6() }), field: 'spec' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec',
    message: 'routeReflector.clusterID must be outside the routerIDCIDR range',
    // Defaults: clusterID 192.0.2.1, routerIDCIDR 10.0.0.0/24.
    base: underlay({ routeReflector: {} }),
    baseIssues: [ns('spec.routeReflector')],
    fires: [
      // X5: the defaulted cluster ID falls into an explicit pool.
      { doc: underlay({ routerIDCIDR: '192.0.2.0/24', routeReflector: {} }), field: 'spec' },
      // An explicit cluster ID inside the defaulted pool.
      { doc: underlay({ routeReflector: { clusterID: '10.0.0.200' } }), field: 'spec' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec',
    message: 'routeReflector.clusterID must be outside the routerIDCIDR range',
    base: underlay({ routerIDCIDR: '10.255.0.0/24', routeReflector: { clusterID: '10.0.0.1' } }),
    baseIssues: [ns('spec.routeReflector')],
    fires: [],
  },
  // ---- Underlay.spec.interfaces
  {
    kind: 'Underlay',
    at: 'spec.interfaces',
    message: 'all interfaces must be of the same type, mixing NetworkDevice and CNIDevice is not supported',
    base: underlay({ interfaces: [nic('toswitch1'), nic('toswitch2')] }),
    fires: [
      { doc: underlay({ interfaces: [nic(), cniIface()] }), field: 'spec.interfaces' },
      { doc: underlay({ interfaces: [cniIface(), nic()] }), field: 'spec.interfaces' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.interfaces[]',
    message: "type/config mismatch: networkDevice must be set if and only if type is 'NetworkDevice'",
    base: underlay(),
    fires: [
      { doc: underlay({ interfaces: [{ type: 'NetworkDevice' }] }), field: 'spec.interfaces[0]' },
      {
        doc: underlay({
          interfaces: [
            { type: 'CNIDevice', networkDevice: { interfaceName: 'eth1' }, cniDevice: cniDevice() },
          ],
        }),
        field: 'spec.interfaces[0]',
      },
      {
        doc: underlay({ interfaces: [nic('toswitch1'), { type: 'NetworkDevice' }] }),
        field: 'spec.interfaces[1]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.interfaces[]',
    message: "type/config mismatch: cniDevice must be set if and only if type is 'CNIDevice'",
    base: underlay({ interfaces: [cniIface()] }),
    baseIssues: [ns('spec.interfaces[0].cniDevice')],
    fires: [
      { doc: underlay({ interfaces: [{ type: 'CNIDevice' }] }), field: 'spec.interfaces[0]' },
      { doc: underlay({ interfaces: [{ ...nic(), cniDevice: cniDevice() }] }), field: 'spec.interfaces[0]' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.interfaces[].cniDevice',
    message: "type/config mismatch: rawConfig must be set if and only if type is 'RawConfig'",
    base: underlay({ interfaces: [cniIface()] }),
    baseIssues: [ns('spec.interfaces[0].cniDevice')],
    fires: [
      {
        doc: underlay({
          interfaces: [{ type: 'CNIDevice', cniDevice: { type: 'RawConfig', interfaceName: 'net1' } }],
        }),
        field: 'spec.interfaces[0].cniDevice',
      },
    ],
  },
  // ---- Underlay.spec.neighbors[] (object-level rules)
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'either ASN or Type must be set',
    base: underlay(),
    fires: [{ doc: withNeighbor({ address: '192.168.11.2' }), field: 'spec.neighbors[0]' }],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'either ASN or Type must be set',
    base: withNeighbor({ type: 'External', address: '192.168.11.2' }),
    fires: [],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'ASN and Type cannot be set together',
    base: withNeighbor({ type: 'Internal', address: '192.168.11.2' }),
    fires: [
      { doc: withNeighbor({ ...tor(), type: 'External' }), field: 'spec.neighbors[0]' },
      {
        doc: underlay({ neighbors: [tor(), { asn: 64513, type: 'Internal', address: '192.168.12.2' }] }),
        field: 'spec.neighbors[1]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'holdTimeSeconds and keepaliveTimeSeconds must be both set or both unset',
    base: withNeighbor({ ...tor(), holdTimeSeconds: 9, keepaliveTimeSeconds: 3 }),
    fires: [
      { doc: withNeighbor({ ...tor(), holdTimeSeconds: 90 }), field: 'spec.neighbors[0]' },
      { doc: withNeighbor({ ...tor(), keepaliveTimeSeconds: 30 }), field: 'spec.neighbors[0]' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'holdTimeSeconds must be 0 or >=3',
    base: withNeighbor({ ...tor(), holdTimeSeconds: 0, keepaliveTimeSeconds: 0 }),
    fires: [
      {
        doc: withNeighbor({ ...tor(), holdTimeSeconds: 2, keepaliveTimeSeconds: 1 }),
        field: 'spec.neighbors[0]',
      },
      {
        doc: withNeighbor({ ...tor(), holdTimeSeconds: 1, keepaliveTimeSeconds: 1 }),
        field: 'spec.neighbors[0]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'holdTimeSeconds must be 0 or >=3',
    base: withNeighbor({ ...tor(), holdTimeSeconds: 3, keepaliveTimeSeconds: 3 }),
    fires: [],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'keepaliveTimeSeconds must be lower than or equal to holdTimeSeconds',
    base: withNeighbor({ ...tor(), holdTimeSeconds: 9, keepaliveTimeSeconds: 9 }),
    fires: [
      {
        doc: withNeighbor({ ...tor(), holdTimeSeconds: 9, keepaliveTimeSeconds: 10 }),
        field: 'spec.neighbors[0]',
      },
      {
        doc: withNeighbor({ ...tor(), holdTimeSeconds: 0, keepaliveTimeSeconds: 5 }),
        field: 'spec.neighbors[0]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'Either a valid Address, Interface name or ListenRange must be provided for Neighbor',
    base: underlay(),
    fires: [{ doc: withNeighbor({ asn: 64512 }), field: 'spec.neighbors[0]' }],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'Address and Interface cannot be set together for Neighbor',
    base: withNeighbor({ type: 'External', interface: 'eth1' }),
    baseIssues: [ns('spec.neighbors[0].interface')],
    fires: [{ doc: withNeighbor({ ...tor(), interface: 'eth1' }), field: 'spec.neighbors[0]' }],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'ipv4vpn and ipv6vpn address families are not supported for unnumbered (interface) neighbors',
    base: withNeighbor({ type: 'External', interface: 'eth1', addressFamilies: [{ type: 'ipv4unicast' }] }),
    baseIssues: [ns('spec.neighbors[0].interface')],
    fires: [
      {
        doc: withNeighbor({ type: 'External', interface: 'eth1', addressFamilies: [{ type: 'ipv6vpn' }] }),
        field: 'spec.neighbors[0]',
      },
      {
        doc: withNeighbor({ type: 'External', interface: 'eth1', addressFamilies: [{ type: 'ipv4vpn' }] }),
        field: 'spec.neighbors[0]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'ipv4vpn and ipv6vpn address families require an IPv6 neighbor address',
    base: withNeighbor(v12Neighbor()),
    baseIssues: [
      ns('spec.neighbors[0].addressFamilies[1].type'),
      ns('spec.neighbors[0].addressFamilies[2].type'),
    ],
    fires: [
      { doc: withNeighbor({ ...tor(), addressFamilies: [{ type: 'ipv4vpn' }] }), field: 'spec.neighbors[0]' },
      { doc: withNeighbor({ ...tor(), addressFamilies: [{ type: 'ipv6vpn' }] }), field: 'spec.neighbors[0]' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'listenRange and address are mutually exclusive',
    base: withNeighbor({ type: 'Internal', listenRange: '192.168.11.0/24' }),
    baseIssues: [ns('spec.neighbors[0].listenRange')],
    fires: [
      {
        doc: withNeighbor({ type: 'Internal', listenRange: '192.168.11.0/24', address: '192.168.11.2' }),
        field: 'spec.neighbors[0]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'listenRange and interface are mutually exclusive',
    base: withNeighbor({ type: 'Internal', listenRange: '192.168.11.0/24' }),
    baseIssues: [ns('spec.neighbors[0].listenRange')],
    fires: [
      {
        doc: withNeighbor({ type: 'Internal', listenRange: '192.168.11.0/24', interface: 'eth1' }),
        field: 'spec.neighbors[0]',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[]',
    message: 'routeReflectorClient requires type Internal',
    base: withNeighbor(rrClientNeighbor({ type: 'Internal' })),
    baseIssues: rrClientIssues,
    fires: [
      // A numeric ASN is refused even when it equals the local one (iBGP).
      { doc: withNeighbor(rrClientNeighbor({ asn: 64514 })), field: 'spec.neighbors[0]' },
      { doc: withNeighbor(rrClientNeighbor({ type: 'External' })), field: 'spec.neighbors[0]' },
    ],
  },
  // ---- Underlay.spec.neighbors[] fields
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].address',
    message: 'Address must be a valid IPv4 or IPv6 address',
    base: withNeighbor({ asn: 64512, address: '2001:db8:11::2' }),
    fires: [
      { doc: withNeighbor({ asn: 64512, address: '192.168.11.256' }), field: 'spec.neighbors[0].address' },
      { doc: withNeighbor({ asn: 64512, address: '2001:db8::g' }), field: 'spec.neighbors[0].address' },
      { doc: withNeighbor({ asn: 64512, address: 'tor-1' }), field: 'spec.neighbors[0].address' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].interface',
    message: 'Interface must not contain /, :, or whitespace',
    base: withNeighbor({ type: 'External', interface: 'eth1.100' }),
    baseIssues: [ns('spec.neighbors[0].interface')],
    fires: ['eth/1', 'eth:1', 'eth 1', 'eth\t1'].map((name) => ({
      doc: withNeighbor({ type: 'External', interface: name }),
      field: 'spec.neighbors[0].interface',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].interface',
    message: 'Interface cannot be . or ..',
    base: withNeighbor({ type: 'External', interface: '...' }),
    baseIssues: [ns('spec.neighbors[0].interface')],
    fires: ['.', '..'].map((name) => ({
      doc: withNeighbor({ type: 'External', interface: name }),
      field: 'spec.neighbors[0].interface',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].listenRange',
    message: 'listenRange must be a valid CIDR',
    base: withNeighbor({ type: 'Internal', listenRange: '2001:db8:11::/64' }),
    baseIssues: [ns('spec.neighbors[0].listenRange')],
    fires: ['192.168.11.0', '192.168.11.0/33', 'any'].map((listenRange) => ({
      doc: withNeighbor({ type: 'Internal', listenRange }),
      field: 'spec.neighbors[0].listenRange',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].listenRange',
    message: 'listenRange must not be an IPv6 link-local range',
    // An IPv4 link-local range is not an IPv6 link-local range.
    base: withNeighbor({ type: 'Internal', listenRange: '169.254.0.0/16' }),
    baseIssues: [ns('spec.neighbors[0].listenRange')],
    // fe80::/8 starts with a link-local address (Kubernetes' cidr().ip() is the address as written, unmasked).
    fires: ['fe80::/64', 'fe80::/10', 'fe80::/8', 'fe80::1/64'].map((listenRange) => ({
      doc: withNeighbor({ type: 'Internal', listenRange }),
      field: 'spec.neighbors[0].listenRange',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].addressFamilies',
    message: 'EVPN and IPv4VPN/IPv6VPN address families are mutually exclusive',
    base: withNeighbor(v12Neighbor()),
    baseIssues: [
      ns('spec.neighbors[0].addressFamilies[1].type'),
      ns('spec.neighbors[0].addressFamilies[2].type'),
    ],
    fires: [
      {
        doc: withNeighbor({
          asn: 64520,
          address: '2001:db8:1234::1',
          addressFamilies: [{ type: 'evpn' }, { type: 'ipv6vpn' }],
        }),
        field: 'spec.neighbors[0].addressFamilies',
      },
      {
        doc: withNeighbor({
          asn: 64520,
          address: '2001:db8:1234::1',
          addressFamilies: [{ type: 'ipv4vpn' }, { type: 'evpn' }],
        }),
        field: 'spec.neighbors[0].addressFamilies',
      },
    ],
  },
  // ---- Underlay.spec.tunnelEndpoint.cidrs
  {
    kind: 'Underlay',
    at: 'spec.tunnelEndpoint.cidrs',
    message: 'all entries must be valid CIDRs',
    base: underlay({ tunnelEndpoint: dualTunnelEndpoint() }),
    fires: [
      {
        doc: underlay({ tunnelEndpoint: { cidrs: ['100.65.0.0/24', 'vtep-pool'] } }),
        field: 'spec.tunnelEndpoint.cidrs',
      },
      { doc: underlay({ tunnelEndpoint: { cidrs: ['100.65.0.1'] } }), field: 'spec.tunnelEndpoint.cidrs' },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.tunnelEndpoint.cidrs',
    message: 'at most one IPv4 CIDR is allowed',
    base: underlay({ tunnelEndpoint: { cidrs: ['100.65.0.0/24'] } }),
    fires: [
      {
        doc: underlay({ tunnelEndpoint: { cidrs: ['100.65.0.0/24', '100.66.0.0/24'] } }),
        field: 'spec.tunnelEndpoint.cidrs',
      },
    ],
  },
  {
    kind: 'Underlay',
    at: 'spec.tunnelEndpoint.cidrs',
    message: 'at most one IPv6 CIDR is allowed',
    base: underlay({ tunnelEndpoint: { cidrs: ['fd00:65::/64'] } }),
    fires: [
      {
        doc: underlay({ tunnelEndpoint: { cidrs: ['fd00:65::/64', 'fd00:66::/64'] } }),
        field: 'spec.tunnelEndpoint.cidrs',
      },
    ],
  },
  // ---- Underlay.spec.isis / srv6 / routeReflector
  {
    kind: 'Underlay',
    at: 'spec.isis.baseNet',
    message: 'Provided net address must match canonical format',
    base: underlay({ isis: isis() }),
    baseIssues: [ns('spec.isis')],
    fires: ['49.0001.0002.0003.000A.00', '49-0001-0002-0003-0004-00', '490.001.0002.0003.0004.00'].map(
      (baseNet) => ({ doc: underlay({ isis: isis({ baseNet }) }), field: 'spec.isis.baseNet' }),
    ),
  },
  {
    kind: 'Underlay',
    at: 'spec.isis.interfaces[].name',
    message: 'Interface must not contain /, :, or whitespace',
    base: underlay({ isis: isis({ interfaces: [{ name: 'toswitch', ipFamily: 'IPv6' }] }) }),
    baseIssues: [ns('spec.isis')],
    fires: ['eth/1', 'eth 1'].map((name) => ({
      doc: underlay({ isis: isis({ interfaces: [{ name: 'lo' }, { name, ipFamily: 'IPv6' }] }) }),
      field: 'spec.isis.interfaces[1].name',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.isis.interfaces[].name',
    message: 'Interface cannot be . or ..',
    base: underlay({ isis: isis({ interfaces: [{ name: 'lo' }] }) }),
    baseIssues: [ns('spec.isis')],
    fires: ['.', '..'].map((name) => ({
      doc: underlay({ isis: isis({ interfaces: [{ name }] }) }),
      field: 'spec.isis.interfaces[0].name',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.srv6.locator.basePrefix',
    message: 'prefix must be an IPv6 CIDR',
    base: srv6Underlay(),
    baseIssues: [ns('spec.isis'), ns('spec.srv6')],
    fires: ['10.0.0.0/8', 'fd00:0:32::'].map((prefix) => ({
      doc: underlay({ tunnelEndpoint: dualTunnelEndpoint(), isis: isis(), srv6: srv6(prefix) }),
      field: 'spec.srv6.locator.basePrefix',
    })),
  },
  {
    kind: 'Underlay',
    at: 'spec.routeReflector.clusterID',
    message: 'clusterID must be a valid IPv4 address',
    base: underlay({ routeReflector: { clusterID: '192.0.2.1' } }),
    baseIssues: [ns('spec.routeReflector')],
    fires: ['2001:db8::1', '192.0.2.256', 'cluster-1'].map((clusterID) => ({
      doc: underlay({ routeReflector: { clusterID } }),
      field: 'spec.routeReflector.clusterID',
    })),
  },
  // ---- L3VNI
  {
    kind: 'L3VNI',
    at: 'spec',
    message: 'hostASN must be different from asn',
    base: l3vni(),
    fires: [{ doc: l3vni({ hostSession: hostSession({ hostASN: 64514 }) }), field: 'spec' }],
  },
  {
    kind: 'L3VNI',
    at: 'spec',
    message: 'hostASN must be different from asn',
    // V2: no host session at all.
    base: obj('L3VNI', 'tenant-a', { vrf: 'tenant-a', vni: 1000 }),
    fires: [],
  },
  ...hostSessionCases('L3VNI', (hs) => l3vni({ hostSession: hs })),
  // ---- L2VNI
  {
    kind: 'L2VNI',
    at: 'spec',
    message: 'gatewayIPs cannot be set without routingDomain',
    base: l2vni(),
    fires: [
      {
        doc: obj('L2VNI', 'orphan-gw', { vni: 4000, gatewayIPs: ['10.40.0.1/24'] }),
        field: 'spec',
      },
    ],
  },
  {
    kind: 'L2VNI',
    at: 'spec',
    message: 'gatewayIPs cannot be set without routingDomain',
    // An empty list is "not set".
    base: obj('L2VNI', 'east-west', { vni: 3001, gatewayIPs: [] }),
    fires: [],
  },
  {
    kind: 'L2VNI',
    at: 'spec.routingDomain',
    message: 'type L3VNI requires l3vni to be set and l3vpn to be unset',
    base: l2vni(),
    fires: [
      {
        doc: l2vni({ routingDomain: { type: 'L3VNI', l3vpn: { name: 'red' } } }),
        field: 'spec.routingDomain',
      },
      {
        doc: l2vni({ routingDomain: { type: 'L3VNI', l3vni: { name: 'red' }, l3vpn: { name: 'red' } } }),
        field: 'spec.routingDomain',
      },
    ],
  },
  {
    kind: 'L2VNI',
    at: 'spec.routingDomain',
    message: 'type L3VPN requires l3vpn to be set and l3vni to be unset',
    base: l2vni({ routingDomain: { type: 'L3VPN', l3vpn: { name: 'red' } } }),
    baseIssues: [ns('spec.routingDomain.l3vpn')],
    fires: [
      {
        doc: l2vni({ routingDomain: { type: 'L3VPN', l3vni: { name: 'red' } } }),
        field: 'spec.routingDomain',
      },
      {
        doc: l2vni({ routingDomain: { type: 'L3VPN', l3vpn: { name: 'red' }, l3vni: { name: 'red' } } }),
        field: 'spec.routingDomain',
      },
    ],
  },
  {
    kind: 'L2VNI',
    at: 'spec.hostMaster',
    message:
      "type/config mismatch: 'LinuxBridge' requires linuxBridge field, 'OVSBridge' requires ovsBridge field",
    base: l2vni(),
    fires: [
      { type: 'LinuxBridge' },
      { type: 'LinuxBridge', ovsBridge: { lifecycle: 'Managed' } },
      { type: 'OVSBridge', linuxBridge: { lifecycle: 'Managed' } },
      { type: 'LinuxBridge', linuxBridge: { lifecycle: 'Managed' }, ovsBridge: { lifecycle: 'Managed' } },
    ].map((hostMaster) => ({ doc: l2vni({ hostMaster }), field: 'spec.hostMaster' })),
  },
  {
    kind: 'L2VNI',
    at: 'spec.hostMaster.linuxBridge',
    message: 'name must be set when lifecycle is External, and must not be set when it is Managed.',
    base: l2vni(),
    fires: [{ lifecycle: 'Managed', name: 'br-mine' }, { lifecycle: 'External' }].map((linuxBridge) => ({
      doc: l2vni({ hostMaster: { type: 'LinuxBridge', linuxBridge } }),
      field: 'spec.hostMaster.linuxBridge',
    })),
  },
  {
    kind: 'L2VNI',
    at: 'spec.hostMaster.linuxBridge',
    message: 'name must be set when lifecycle is External, and must not be set when it is Managed.',
    base: l2vni({
      hostMaster: { type: 'LinuxBridge', linuxBridge: { lifecycle: 'External', name: 'br-storage' } },
    }),
    fires: [],
  },
  {
    kind: 'L2VNI',
    at: 'spec.hostMaster.ovsBridge',
    message: 'name must be set when lifecycle is External, and must not be set when it is Managed.',
    base: l2vni({ hostMaster: { type: 'OVSBridge', ovsBridge: { lifecycle: 'External', name: 'br-ex' } } }),
    baseIssues: [ns('spec.hostMaster.ovsBridge')],
    fires: [{ lifecycle: 'Managed', name: 'br-ex' }, { lifecycle: 'External' }].map((ovsBridge) => ({
      doc: l2vni({ hostMaster: { type: 'OVSBridge', ovsBridge } }),
      field: 'spec.hostMaster.ovsBridge',
    })),
  },
  {
    kind: 'L2VNI',
    at: 'spec.gatewayIPs',
    message: 'GatewayIPs cannot be changed',
    base: l2vni(),
    baseOld: l2vni(),
    fires: [
      { doc: l2vni({ gatewayIPs: ['10.100.0.2/24'] }), old: l2vni(), field: 'spec.gatewayIPs' },
      {
        doc: l2vni({ gatewayIPs: ['10.100.0.1/24', 'fd10:100::1/64'] }),
        old: l2vni(),
        field: 'spec.gatewayIPs',
      },
    ],
  },
  // ---- L3Passthrough (no hostASN != asn rule: iBGP with the host is allowed)
  ...hostSessionCases('L3Passthrough', (hs) => passthrough({ hostSession: hs })),
  // ---- L3VPN (the kind is not supported yet, but its schema rules still run first)
  {
    kind: 'L3VPN',
    at: 'spec',
    message: 'hostASN must be different from asn',
    base: l3vpn(),
    baseIssues: [L3VPN_NOT_SUPPORTED],
    fires: [{ doc: l3vpn({ hostSession: hostSession({ hostASN: 64514 }) }), field: 'spec' }],
  },
  ...hostSessionCases('L3VPN', (hs) => l3vpn({ hostSession: hs }), [L3VPN_NOT_SUPPORTED]),
];

const UNREACHABLE_CEL_CASES: UnreachableCelCase[] = [
  {
    kind: 'Underlay',
    at: 'spec.neighbors[].properties[]',
    message: NEIGHBOR_PROPERTY_RULE_MESSAGE,
    why: 'the type enum has the single value ebgpMultiHop, so a schema-valid property always satisfies the rule',
    base: withNeighbor({ ...tor(), properties: [{ type: 'ebgpMultiHop', ebgpMultiHop: { ttl: 4 } }] }),
    holdsFor: { type: 'ebgpMultiHop', ebgpMultiHop: { ttl: 4 } },
    failsFor: { type: 'someOtherProperty', ebgpMultiHop: { ttl: 4 } },
    structural: {
      doc: withNeighbor({ ...tor(), properties: [{ type: 'someOtherProperty', ebgpMultiHop: { ttl: 4 } }] }),
      issues: [
        'spec.neighbors[0].properties[0].type: Unsupported value: "someOtherProperty": supported values: "ebgpMultiHop"',
      ],
    },
  },
];

function siteOf(c: { kind: KindName; at: string; message: string }): RuleSite {
  const site = RULE_SITES.find((s) => siteKey(s) === siteKey(c));
  assert.ok(site, `no CEL rule "${c.message}" at ${c.kind} ${c.at} in the schemas (stale test case?)`);
  return site;
}

describe('CEL rules: every rule of every schema', () => {
  it('collects the rules of all kinds from the schemas', () => {
    // Sanity of the walk itself: rules sit at object, list, list-item and string nodes of several kinds.
    const keys = RULE_SITES.map(siteKey);
    assert.equal(new Set(keys).size, keys.length, 'each (kind, path, message) must be unique');
    assert.ok(
      keys.includes('Underlay spec.neighbors[].address | Address must be a valid IPv4 or IPv6 address'),
    );
    assert.ok(keys.includes("L3Passthrough spec.hostSession.localCIDR | LocalCIDR can't be changed"));
    assert.ok(keys.includes('L2VNI spec.gatewayIPs | GatewayIPs cannot be changed'));
    assert.deepEqual([...new Set(RULE_SITES.map((s) => s.kind))].sort(), [
      'L2VNI',
      'L3Passthrough',
      'L3VNI',
      'L3VPN',
      'Underlay',
    ]);
  });

  it('has a test case for every rule (a new rule without a case fails here)', () => {
    const covered = new Set([
      ...CEL_CASES.filter((c) => c.fires.length > 0).map(siteKey),
      ...UNREACHABLE_CEL_CASES.map(siteKey),
    ]);
    const missing = RULE_SITES.filter((s) => !covered.has(siteKey(s))).map(siteKey);
    assert.deepEqual(missing, [], 'CEL rules without a firing test case');
  });

  it('knows exactly which rules are transition rules (oldSelf)', () => {
    assert.deepEqual(RULE_SITES.filter((s) => ruleUsesOldSelf(s.rule)).map(siteKey), [
      "L3VNI spec.hostSession.localCIDR | LocalCIDR can't be changed",
      'L2VNI spec.gatewayIPs | GatewayIPs cannot be changed',
      "L3Passthrough spec.hostSession.localCIDR | LocalCIDR can't be changed",
      "L3VPN spec.hostSession.localCIDR | LocalCIDR can't be changed",
    ]);
  });

  for (const c of CEL_CASES) {
    describe(`${c.kind} ${c.at}: ${c.message}`, () => {
      const site = siteOf(c);
      const transition = ruleUsesOldSelf(site.rule);

      it('holds on the base object, whose rule node is present', () => {
        assert.equal(c.base['kind'], c.kind);
        const defaulted = structuredClone(c.base);
        applyDefaults(objectSchema(c.kind), defaulted);
        assert.ok(valuesAt(defaulted, c.at).length > 0, `base has nothing at ${c.at}`);
        if (transition) assert.ok(c.baseOld, 'a transition rule needs an old object to be evaluated');
        assert.deepEqual(issuesOf(c.base, c.baseOld), c.baseIssues ?? []);
      });

      c.fires.forEach((f, i) => {
        it(`fires (#${i + 1}) on ${f.field}`, () => {
          assert.equal(f.doc['kind'], c.kind);
          assert.equal(schemaPathOf(f.field), c.at, 'reported field must be an instance of the rule path');
          assert.deepEqual(issuesOf(f.doc, f.old), [`${f.field}: ${c.message}`]);
          if (transition) {
            assert.ok(f.old, 'a transition rule fires only against an old object');
            // On CREATE (no old object) transition rules do not run.
            assert.ok(!issuesOf(f.doc).includes(`${f.field}: ${c.message}`));
          }
        });
      });
    });
  }

  for (const c of UNREACHABLE_CEL_CASES) {
    it(`${c.kind} ${c.at}: ${c.message} (unreachable through the schema: ${c.why})`, () => {
      const site = siteOf(c);
      assert.equal(evaluateRule(site.rule, c.holdsFor), true);
      assert.equal(evaluateRule(site.rule, c.failsFor), false);
      assert.deepEqual(issuesOf(c.base), []);
      assert.ok(valuesAt(c.base, c.at).length > 0);
      assert.deepEqual(issuesOf(c.structural.doc), c.structural.issues);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// b. Schema-level checks.

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found');
    dir = parent;
  }
  return dir;
}
const EXAMPLES_DIR = join(repoRoot(), 'examples', 'api');

function loadExample(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), 'utf8'));
  assert.ok(Array.isArray(docs), `${file} must parse as YAML`);
  for (const d of docs) assert.deepEqual(d.errors, [], `${file}: YAML errors`);
  return docs.map((d) => d.toJS() as unknown);
}

describe('schema: required fields', () => {
  it('X3 with only the group fixed: spec.interfaces is required, nics and evpn are unknown', () => {
    const [x3] = loadExample('x3-old-group-manifest.yaml');
    const fixed = { ...(x3 as Doc), apiVersion: API };
    assert.deepEqual(issuesOf(fixed), [
      'spec.nics: unknown field',
      'spec.evpn: unknown field',
      'spec.interfaces: Required value',
    ]);
  });

  const cases: [string, Doc, string[]][] = [
    ['spec', { apiVersion: API, kind: 'L3VNI', metadata: { name: 'red' } }, ['spec: Required value']],
    ['vrf and vni', obj('L3VNI', 'red', {}), ['spec.vrf: Required value', 'spec.vni: Required value']],
    [
      'underlay asn, neighbors, interfaces',
      obj('Underlay', 'u', {}),
      ['spec.asn: Required value', 'spec.neighbors: Required value', 'spec.interfaces: Required value'],
    ],
    [
      'hostSession.localCIDR (the 2025-09 spelling localcidr is unknown)',
      l3vni({ hostSession: { asn: 64514, hostASN: 64515, localcidr: { ipv4: '192.169.10.0/24' } } }),
      ['spec.hostSession.localcidr: unknown field', 'spec.hostSession.localCIDR: Required value'],
    ],
    [
      'hostSession.asn',
      l3vni({ hostSession: { hostASN: 64515, localCIDR: {} } }),
      ['spec.hostSession.asn: Required value'],
    ],
    ['tunnelEndpoint.cidrs', underlay({ tunnelEndpoint: {} }), ['spec.tunnelEndpoint.cidrs: Required value']],
    ['L3Passthrough hostSession', obj('L3Passthrough', 'p', {}), ['spec.hostSession: Required value']],
    ['L3VPN importRTs', l3vpn({ importRTs: undefined }), ['spec.importRTs: Required value']],
    [
      'routingDomain reference name',
      l2vni({ routingDomain: { type: 'L3VNI', l3vni: {} } }),
      ['spec.routingDomain.l3vni.name: Required value'],
    ],
    [
      'bridge lifecycle',
      l2vni({ hostMaster: { type: 'LinuxBridge', linuxBridge: {} } }),
      ['spec.hostMaster.linuxBridge.lifecycle: Required value'],
    ],
    [
      'interface type',
      underlay({ interfaces: [{ networkDevice: { interfaceName: 'eth1' } }] }),
      ['spec.interfaces[0].type: Required value'],
    ],
    [
      'networkDevice.interfaceName',
      underlay({ interfaces: [{ type: 'NetworkDevice', networkDevice: {} }] }),
      ['spec.interfaces[0].networkDevice.interfaceName: Required value'],
    ],
    [
      'srv6 locator format',
      underlay({
        tunnelEndpoint: dualTunnelEndpoint(),
        isis: isis(),
        srv6: { locator: { basePrefix: 'fd00:0:32::/48' } },
      }),
      ['spec.srv6.locator.format: Required value'],
    ],
    ['rawConfig', obj('RawFRRConfig', 'r', {}), ['spec.rawConfig: Required value']],
    [
      'nodeSelector expression key and operator',
      l3vni({ nodeSelector: { matchExpressions: [{ values: ['a'] }] } }),
      [
        'spec.nodeSelector.matchExpressions[0].key: Required value',
        'spec.nodeSelector.matchExpressions[0].operator: Required value',
      ],
    ],
    [
      'list minimums',
      underlay({ neighbors: [], interfaces: [] }),
      [
        'spec.neighbors: Invalid value: must have at least 1 items',
        'spec.interfaces: Invalid value: must have at least 1 items',
      ],
    ],
  ];
  for (const [what, doc, want] of cases) {
    it(`requires ${what}`, () => {
      assert.deepEqual(issuesOf(JSON.parse(JSON.stringify(doc)) as unknown), want);
    });
  }
});

describe('schema: unknown fields', () => {
  it('rejects spec.nics (strict decoding)', () => {
    assert.deepEqual(issuesOf(underlay({ nics: ['toswitch'] })), ['spec.nics: unknown field']);
  });
  it('rejects unknown nested fields with their full path', () => {
    assert.deepEqual(issuesOf(withNeighbor({ ...tor(), holdTime: '90s' })), [
      'spec.neighbors[0].holdTime: unknown field',
    ]);
    assert.deepEqual(
      issuesOf(
        l2vni({
          hostMaster: { type: 'LinuxBridge', linuxBridge: { lifecycle: 'Managed', autoCreate: true } },
        }),
      ),
      ['spec.hostMaster.linuxBridge.autoCreate: unknown field'],
    );
    assert.deepEqual(issuesOf({ ...l3vni(), status: { ready: true } }), ['status.ready: unknown field']);
    assert.deepEqual(issuesOf({ ...l3vni(), metadata: { name: 'red', nmae: 'x' } }), [
      'metadata.nmae: unknown field',
    ]);
  });
  it('accepts the ObjectMeta fields an API server returns (kubectl get -o yaml)', () => {
    const doc = {
      ...l3vni(),
      metadata: {
        name: 'red',
        namespace: NS,
        uid: '0d6c5c2e-0000-4000-8000-000000000000',
        resourceVersion: '1234',
        generation: 2,
        creationTimestamp: '2026-01-01T00:00:00Z',
        labels: { app: 'x' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        finalizers: ['example.com/keep'],
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'worker-1', uid: 'u' }],
        managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
      },
    };
    assert.deepEqual(issuesOf(doc), []);
  });
  it('keeps free-form CNI configuration as written (no unknown-field check inside rawConfig)', () => {
    const doc = underlay({
      interfaces: [
        cniIface({
          rawConfig: { cniVersion: '1.0.0', anything: { goes: [1, 2] } },
          runtimeConfig: { mac: '02:00:00:00:11:10' },
        }),
      ],
    });
    assert.deepEqual(issuesOf(doc), [ns('spec.interfaces[0].cniDevice')]);
  });
  it('rejects duplicate keys of map lists', () => {
    assert.deepEqual(
      issuesOf(withNeighbor({ ...tor(), addressFamilies: [{ type: 'evpn' }, { type: 'evpn' }] })),
      ['spec.neighbors[0].addressFamilies[1]: Duplicate value: {"type":"evpn"}'],
    );
  });
});

describe('schema: enums', () => {
  const cases: [Doc, string][] = [
    [
      withNeighbor({ type: 'internal', address: '192.168.11.2' }),
      'spec.neighbors[0].type: Unsupported value: "internal": supported values: "External", "Internal"',
    ],
    [
      underlay({ interfaces: [{ type: 'nic', networkDevice: { interfaceName: 'eth1' } }] }),
      'spec.interfaces[0].type: Unsupported value: "nic": supported values: "NetworkDevice", "CNIDevice"',
    ],
    [
      l2vni({ hostMaster: { type: 'linux-bridge', linuxBridge: { lifecycle: 'Managed' } } }),
      'spec.hostMaster.type: Unsupported value: "linux-bridge": supported values: "LinuxBridge", "OVSBridge"',
    ],
    [
      l2vni({ hostMaster: { type: 'LinuxBridge', linuxBridge: { lifecycle: 'managed' } } }),
      'spec.hostMaster.linuxBridge.lifecycle: Unsupported value: "managed": supported values: "Managed", "External"',
    ],
    [
      l3vni({ underlayAddressFamily: 'ipv6' }),
      'spec.underlayAddressFamily: Unsupported value: "ipv6": supported values: "IPv4", "IPv6"',
    ],
    [
      l3vni({ hostSession: hostSession({ hostASN: undefined, hostType: 'external' }) }),
      'spec.hostSession.hostType: Unsupported value: "external": supported values: "External", "Internal"',
    ],
    [
      withNeighbor({ ...tor(), addressFamilies: [{ type: 'l2vpn' }] }),
      'spec.neighbors[0].addressFamilies[0].type: Unsupported value: "l2vpn": supported values: "ipv4unicast", "ipv6unicast", "evpn", "ipv4vpn", "ipv6vpn"',
    ],
    [
      withNeighbor({ ...tor(), bfd: { sessionMode: 'active' } }),
      'spec.neighbors[0].bfd.sessionMode: Unsupported value: "active": supported values: "Active", "Passive"',
    ],
    [underlay({ isis: isis({ level: 3 }) }), 'spec.isis.level: Unsupported value: 3: supported values: 1, 2'],
    [
      l2vni({ routingDomain: { type: 'VRF', l3vni: { name: 'red' } } }),
      'spec.routingDomain.type: Unsupported value: "VRF": supported values: "L3VNI", "L3VPN"',
    ],
  ];
  for (const [doc, want] of cases) {
    it(want.split(':')[0] ?? want, () => {
      assert.deepEqual(issuesOf(JSON.parse(JSON.stringify(doc)) as unknown), [want]);
    });
  }
});

describe('schema: bounds', () => {
  const ge = (field: string, v: number, limit: number) =>
    `${field}: Invalid value: ${v}: must be greater than or equal to ${limit}`;
  const le = (field: string, v: number, limit: number) =>
    `${field}: Invalid value: ${v}: must be less than or equal to ${limit}`;
  const cases: [string, Doc, string[]][] = [
    ['asn 0', underlay({ asn: 0 }), [ge('spec.asn', 0, 1)]],
    ['asn 4294967296', underlay({ asn: 4294967296 }), [le('spec.asn', 4294967296, 4294967295)]],
    ['asn 4294967295', underlay({ asn: 4294967295 }), []],
    ['asn 1.5', underlay({ asn: 1.5 }), ['spec.asn: Invalid value: 1.5: must be of type integer']],
    [
      'asn "64514"',
      underlay({ asn: '64514' }),
      ['spec.asn: Invalid value: "64514": must be of type integer'],
    ],
    [
      'neighbor asn 0',
      withNeighbor({ asn: 0, address: '192.168.11.2' }),
      [ge('spec.neighbors[0].asn', 0, 1)],
    ],
    [
      'neighbor asn 4294967296',
      withNeighbor({ asn: 4294967296, address: '192.168.11.2' }),
      [le('spec.neighbors[0].asn', 4294967296, 4294967295)],
    ],
    ['L3VNI vni 16777216', l3vni({ vni: 16777216 }), [le('spec.vni', 16777216, 16777215)]],
    ['L3VNI vni 16777215', l3vni({ vni: 16777215 }), []],
    ['L3VNI vni 0', l3vni({ vni: 0 }), [ge('spec.vni', 0, 1)]],
    ['L2VNI vni 16777216', l2vni({ vni: 16777216 }), [le('spec.vni', 16777216, 16777215)]],
    ['port 16385', withNeighbor({ ...tor(), port: 16385 }), [le('spec.neighbors[0].port', 16385, 16384)]],
    ['port 16384', withNeighbor({ ...tor(), port: 16384 }), []],
    ['port 0', withNeighbor({ ...tor(), port: 0 }), []],
    ['port -1', withNeighbor({ ...tor(), port: -1 }), [ge('spec.neighbors[0].port', -1, 0)]],
    [
      'hold 2 (CEL bound)',
      withNeighbor({ ...tor(), holdTimeSeconds: 2, keepaliveTimeSeconds: 2 }),
      ['spec.neighbors[0]: holdTimeSeconds must be 0 or >=3'],
    ],
    ['hold 0 keepalive 0', withNeighbor({ ...tor(), holdTimeSeconds: 0, keepaliveTimeSeconds: 0 }), []],
    [
      'hold 3 keepalive 0 (no keepalive lower bound)',
      withNeighbor({ ...tor(), holdTimeSeconds: 3, keepaliveTimeSeconds: 0 }),
      [],
    ],
    [
      'hold 65535 (no schema upper bound)',
      withNeighbor({ ...tor(), holdTimeSeconds: 65535, keepaliveTimeSeconds: 21845 }),
      [],
    ],
    [
      'keepalive above hold (CEL bound)',
      withNeighbor({ ...tor(), holdTimeSeconds: 3, keepaliveTimeSeconds: 4 }),
      ['spec.neighbors[0]: keepaliveTimeSeconds must be lower than or equal to holdTimeSeconds'],
    ],
    [
      'connectTimeSeconds 0',
      withNeighbor({ ...tor(), connectTimeSeconds: 0 }),
      [ge('spec.neighbors[0].connectTimeSeconds', 0, 1)],
    ],
    [
      'connectTimeSeconds 65536',
      withNeighbor({ ...tor(), connectTimeSeconds: 65536 }),
      [le('spec.neighbors[0].connectTimeSeconds', 65536, 65535)],
    ],
    [
      'gracefulRestart 0 / 4096',
      underlay({ gracefulRestart: { restartTimeSeconds: 0, stalePathTimeSeconds: 4096 } }),
      [
        ge('spec.gracefulRestart.restartTimeSeconds', 0, 1),
        le('spec.gracefulRestart.stalePathTimeSeconds', 4096, 4095),
      ],
    ],
    [
      'bfd intervals and multipliers',
      withNeighbor({
        ...tor(),
        bfd: { receiveInterval: 9, transmitInterval: 60001, detectMultiplier: 1, minimumTTL: 255 },
      }),
      [
        ge('spec.neighbors[0].bfd.receiveInterval', 9, 10),
        le('spec.neighbors[0].bfd.transmitInterval', 60001, 60000),
        ge('spec.neighbors[0].bfd.detectMultiplier', 1, 2),
        le('spec.neighbors[0].bfd.minimumTTL', 255, 254),
      ],
    ],
    [
      'ebgpMultiHop ttl 256',
      withNeighbor({ ...tor(), properties: [{ type: 'ebgpMultiHop', ebgpMultiHop: { ttl: 256 } }] }),
      [le('spec.neighbors[0].properties[0].ebgpMultiHop.ttl', 256, 255)],
    ],
    [
      'hostSession asn 0',
      l3vni({ hostSession: hostSession({ asn: 0 }) }),
      [ge('spec.hostSession.asn', 0, 1)],
    ],
    [
      'hostASN 4294967296',
      passthrough({ hostSession: hostSession({ hostASN: 4294967296 }) }),
      [le('spec.hostSession.hostASN', 4294967296, 4294967295)],
    ],
    [
      'rdAssignedNumber 65536',
      l3vpn({ rdAssignedNumber: 65536 }),
      [le('spec.rdAssignedNumber', 65536, 65535)],
    ],
    ['priority -1', rawFRR({ priority: -1 }), [ge('spec.priority', -1, 0)]],
    [
      'tunnelEndpoint 3 cidrs',
      underlay({ tunnelEndpoint: { cidrs: ['100.65.0.0/24', 'fd00:65::/64', '100.66.0.0/24'] } }),
      ['spec.tunnelEndpoint.cidrs: Too many: 3: must have at most 2 items'],
    ],
    [
      'gatewayIPs 3 entries',
      l2vni({ gatewayIPs: ['10.100.0.1/24', 'fd10:100::1/64', '10.101.0.1/24'] }),
      ['spec.gatewayIPs: Too many: 3: must have at most 2 items'],
    ],
    [
      '129 neighbors',
      underlay({
        neighbors: Array.from({ length: 129 }, (_, i) => ({ asn: 64512, address: `10.1.${i}.1` })),
      }),
      ['spec.neighbors: Too many: 129: must have at most 128 items'],
    ],
  ];
  for (const [what, doc, want] of cases) {
    it(what, () => {
      assert.deepEqual(issuesOf(doc), want);
    });
  }
});

describe('schema: patterns and lengths', () => {
  const ifacePattern = "must match '^[a-zA-Z][a-zA-Z0-9._-]*$'";
  const vrfPattern = "must match '^[a-zA-Z][a-zA-Z0-9_-]*$'";
  it('allows dots in underlay interface names (VLAN sub-interfaces)', () => {
    const u = validObject(underlay({ interfaces: [nic('eth1.100'), nic('bond0.2_a-b')] }));
    assert.deepEqual(specOf(u)['interfaces'], [nic('eth1.100'), nic('bond0.2_a-b')]);
  });
  it('refuses interface names not starting with a letter, or longer than 15', () => {
    assert.deepEqual(issuesOf(underlay({ interfaces: [nic('1eth')] })), [
      `spec.interfaces[0].networkDevice.interfaceName: Invalid value: "1eth": ${ifacePattern}`,
    ]);
    assert.deepEqual(issuesOf(underlay({ interfaces: [nic('eth1/1')] })), [
      `spec.interfaces[0].networkDevice.interfaceName: Invalid value: "eth1/1": ${ifacePattern}`,
    ]);
    assert.deepEqual(issuesOf(underlay({ interfaces: [nic('abcdefghijklmnop')] })), [
      'spec.interfaces[0].networkDevice.interfaceName: Too long: may not be more than 15 bytes ("abcdefghijklmnop")',
    ]);
    assert.deepEqual(issuesOf(underlay({ interfaces: [cniIface({ interfaceName: '9net' })] })), [
      `spec.interfaces[0].cniDevice.interfaceName: Invalid value: "9net": ${ifacePattern}`,
    ]);
  });
  it('refuses dots in VRF and bridge names', () => {
    assert.deepEqual(issuesOf(l3vni({ vrf: 'red.1' })), [`spec.vrf: Invalid value: "red.1": ${vrfPattern}`]);
    assert.deepEqual(issuesOf(l3vpn({ vrf: 'red.1' })), [`spec.vrf: Invalid value: "red.1": ${vrfPattern}`]);
    assert.deepEqual(
      issuesOf(
        l2vni({
          hostMaster: { type: 'LinuxBridge', linuxBridge: { lifecycle: 'External', name: 'br.storage' } },
        }),
      ),
      [`spec.hostMaster.linuxBridge.name: Invalid value: "br.storage": ${vrfPattern}`],
    );
    assert.deepEqual(issuesOf(l3vni({ vrf: '' })), [
      'spec.vrf: Invalid value: "": must be at least 1 chars long',
      `spec.vrf: Invalid value: "": ${vrfPattern}`,
    ]);
    assert.deepEqual(issuesOf(l3vni({ vrf: 'a-very-long-vrf1' })), [
      'spec.vrf: Too long: may not be more than 15 bytes ("a-very-long-vrf1")',
    ]);
    assert.equal(specOf(validObject(l3vni({ vrf: 'tenant_a-1' })))['vrf'], 'tenant_a-1');
  });
  it('refuses whitespace in passwords and overlong ISIS NETs', () => {
    assert.deepEqual(issuesOf(withNeighbor({ ...tor(), password: 'with space' })), [
      'spec.neighbors[0].password: Invalid value: "with space": must match \'^\\S+$\'',
    ]);
    assert.deepEqual(issuesOf(underlay({ isis: isis({ baseNet: '49.0001.0002.0003.0004.0005.00' }) })), [
      'spec.isis.baseNet: Too long: may not be more than 25 bytes ("49.0001.0002.0003.0004.0005.00")',
    ]);
  });
});

describe('schema: defaults', () => {
  it('defaults routerIDCIDR to 10.0.0.0/24 and keeps an explicit one', () => {
    assert.equal(specOf(validObject(underlay()))['routerIDCIDR'], '10.0.0.0/24');
    assert.equal(
      specOf(validObject(underlay({ routerIDCIDR: '10.255.0.0/24' })))['routerIDCIDR'],
      '10.255.0.0/24',
    );
  });
  it('defaults vxlanPort to 4789 on L3VNI and L2VNI', () => {
    assert.equal(specOf(validObject(l3vni()))['vxlanPort'], 4789);
    assert.equal(specOf(validObject(l3vni({ vxlanPort: 4790 })))['vxlanPort'], 4790);
    assert.equal(specOf(validObject(l2vni()))['vxlanPort'], 4789);
  });
  it('defaults RawFRRConfig priority to 0', () => {
    assert.equal(specOf(validObject(rawFRR()))['priority'], 0);
    assert.equal(specOf(validObject(rawFRR({ priority: 10 })))['priority'], 10);
  });
  it('defaults gracefulRestart {} to 120/360, field by field', () => {
    assert.deepEqual(specOf(validObject(underlay({ gracefulRestart: {} })))['gracefulRestart'], {
      restartTimeSeconds: 120,
      stalePathTimeSeconds: 360,
    });
    assert.deepEqual(
      specOf(validObject(underlay({ gracefulRestart: { restartTimeSeconds: 180 } })))['gracefulRestart'],
      {
        restartTimeSeconds: 180,
        stalePathTimeSeconds: 360,
      },
    );
  });
  it('does not add absent optional blocks, nor knobs inside bfd: {}', () => {
    const spec = specOf(validObject(withNeighbor({ ...tor(), bfd: {} })));
    assert.equal(spec['gracefulRestart'], undefined);
    assert.equal(spec['tunnelEndpoint'], undefined);
    assert.deepEqual(spec['neighbors'], [{ ...tor(), bfd: {} }]);
  });
  it('does not modify the input document', () => {
    const doc = underlay({ gracefulRestart: {} });
    const before = structuredClone(doc);
    validObject(doc);
    assert.deepEqual(doc, before);
  });
  it('defaults cniDevice.interfaceName to net1 and routeReflector.clusterID to 192.0.2.1 (schema defaulting)', () => {
    // Objects with these blocks are refused as not supported, so no object is returned: check the defaulting
    // step validateObject applies, on the same schema.
    const doc = underlay({ interfaces: [cniIface()], routeReflector: {} });
    assert.deepEqual(issuesOf(doc), [ns('spec.interfaces[0].cniDevice'), ns('spec.routeReflector')]);
    const defaulted = structuredClone(doc);
    applyDefaults(objectSchema('Underlay'), defaulted);
    const spec = defaulted['spec'] as Doc;
    assert.deepEqual(valuesAt(spec, 'interfaces[].cniDevice.interfaceName'), ['net1']);
    assert.deepEqual(spec['routeReflector'], { clusterID: '192.0.2.1' });
    assert.equal(spec['routerIDCIDR'], '10.0.0.0/24');
  });
});

// ---------------------------------------------------------------------------------------------------------
// c. apiVersion, kind, document shape, metadata.

describe('apiVersion, kind and metadata', () => {
  const noMatch = (kind: string, version: string) => `no matches for kind "${kind}" in version "${version}"`;

  it('rejects the 2025-09 group and names the new one (X3)', () => {
    const [x3] = loadExample('x3-old-group-manifest.yaml');
    const v = validateObject(x3);
    assert.equal(v.object, undefined);
    assert.equal(v.issues.length, 1);
    const [issue] = v.issues;
    assert.equal(issue?.kind, 'Underlay');
    assert.equal(issue?.name, 'underlay');
    assert.equal(issue?.namespace, NS);
    assert.equal(issue?.field, '');
    assert.ok(
      issue?.message.startsWith(noMatch('Underlay', 'openpe.openperouter.github.io/v1alpha1')),
      issue?.message,
    );
    assert.ok(issue?.message.includes('network.openperouter.io/v1alpha1'), issue?.message);
  });
  it('rejects the old group for every kind, however valid the rest is', () => {
    const [msg] = issuesOf({ ...l3vni(), apiVersion: 'openpe.openperouter.github.io/v1alpha1' });
    assert.ok(msg?.startsWith(noMatch('L3VNI', 'openpe.openperouter.github.io/v1alpha1')), msg);
    assert.ok(msg?.includes('renamed to network.openperouter.io'), msg);
  });
  it('rejects unknown kinds and versions of the group, listing the kinds', () => {
    const kinds = 'Underlay, L3VNI, L2VNI, L3Passthrough, L3VPN, RawFRRConfig, RouterNodeConfigurationStatus';
    assert.deepEqual(issuesOf({ ...l3vni(), kind: 'VNI' }), [
      `${noMatch('VNI', API)}; the kinds of ${API} are ${kinds}`,
    ]);
    assert.deepEqual(issuesOf({ ...l3vni(), kind: 'l3vni' }), [
      `${noMatch('l3vni', API)}; the kinds of ${API} are ${kinds}`,
    ]);
    assert.deepEqual(issuesOf({ ...l3vni(), apiVersion: 'network.openperouter.io/v1' }), [
      `${noMatch('L3VNI', 'network.openperouter.io/v1')}; the kinds of ${API} are ${kinds}`,
    ]);
  });
  it('rejects objects of other groups', () => {
    assert.deepEqual(issuesOf({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } }), [
      `${noMatch('Deployment', 'apps/v1')}; not an openperouter object`,
    ]);
  });
  it('rejects documents that are not mappings', () => {
    for (const doc of [null, [l3vni()], 'kind: L3VNI', 42]) {
      const v = validateObject(doc);
      assert.deepEqual(
        v.issues.map((i) => [i.kind, i.name, i.field, i.message]),
        [['(no kind)', '(no name)', '', 'document is not a YAML mapping (object)']],
      );
    }
  });
  it('requires apiVersion, kind, metadata and metadata.name', () => {
    assert.deepEqual(issuesOf({ kind: 'L3VNI', metadata: { name: 'red' } }), ['apiVersion: Required value']);
    assert.deepEqual(issuesOf({ apiVersion: API, metadata: { name: 'red' } }), ['kind: Required value']);
    const { metadata: _drop, ...noMeta } = l3vni();
    assert.deepEqual(issuesOf(noMeta), ['metadata: Required value']);
    const v = validateObject({ ...l3vni(), metadata: { namespace: NS } });
    assert.deepEqual(v.issues.map(fmt), ['metadata.name: Required value']);
    assert.equal(v.issues[0]?.name, '(no name)');
    assert.equal(v.issues[0]?.namespace, NS);
    assert.deepEqual(issuesOf({ ...l3vni(), metadata: { name: '' } }), [
      'metadata.name: Invalid value: "": must be at least 1 chars long',
    ]);
    assert.deepEqual(issuesOf({ ...l3vni(), metadata: { name: 7 } }), [
      'metadata.name: Invalid value: 7: must be of type string',
    ]);
  });
  it('names the object and the source in every issue', () => {
    const v = validateObject(l3vni({ vni: 0 }), { source: { file: 'vnis.yaml', document: 2 } });
    assert.deepEqual(v.issues, [
      {
        kind: 'L3VNI',
        name: 'red',
        namespace: NS,
        source: { file: 'vnis.yaml', document: 2 },
        field: 'spec.vni',
        message: 'Invalid value: 0: must be greater than or equal to 1',
      },
    ]);
    const ok = validateObject(l3vni(), { source: { file: 'vnis.yaml', document: 0 } });
    assert.deepEqual(ok.object?.source, { file: 'vnis.yaml', document: 0 });
  });
  it('validates RouterNodeConfigurationStatus (status only) without returning an object', () => {
    const status = (conditionStatus: string): Doc => ({
      apiVersion: API,
      kind: 'RouterNodeConfigurationStatus',
      metadata: { name: 'worker-1', namespace: NS },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: conditionStatus,
            reason: 'ConfigurationSuccessful',
            message: '',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
        failedResources: [
          {
            kind: 'L2VNI',
            name: 'web',
            reason: 'DependencyFailed',
            message: 'referenced L3VNI "red" not found',
          },
        ],
      },
    });
    assert.deepEqual(validateObject(status('True')), { issues: [] });
    assert.deepEqual(issuesOf(status('Maybe')), [
      'status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown"',
    ]);
    assert.deepEqual(issuesOf({ ...status('True'), spec: {} }), ['spec: unknown field']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// d. Route targets (L3VNI exportRTs/importRTs; format checked by the per-object rules).

describe('route targets', () => {
  const rtIssue = (list: string, i: number, msg: string) =>
    `spec.${list}[${i}]: invalid route targets for vni "red": ${msg}`;
  const formats = (rt: string) =>
    `RT ${JSON.stringify(rt)} must have one of the following formats: 'ASN:MN' or 'IPv4Address:MN'`;
  const invalid: [string, string][] = [
    ['65000', formats('65000')],
    ['65000:100:200', formats('65000:100:200')],
    ['', formats('')],
    ['abc:100', 'RT format must have ASN:MN: abc:100'],
    ['a.b:100', 'RT format must have ASN:MN: a.b:100'],
    ['4294967296:1', 'RT format must have ASN:MN: 4294967296:1'],
    ['-1:100', 'RT format must have ASN:MN: -1:100'],
    ['65000:abc', 'RT format must have ASN:MN where MN is a number: 65000:abc'],
    ['65000:', 'RT format must have ASN:MN where MN is a number: 65000:'],
    ['10.0.0.1:65536', 'RT format must have A.B.C.D:MN where MN <= 65535: 10.0.0.1:65536'],
    ['10.0.0.1:abc', 'RT format must have A.B.C.D:MN where MN <= 65535: 10.0.0.1:abc'],
    [
      '999.999.999.999:100',
      'RT format must have A.B.C.D:MN where A.B.C.D is a valid IPv4 address: 999.999.999.999:100',
    ],
    ['10.0.0.01:100', 'RT format must have A.B.C.D:MN where A.B.C.D is a valid IPv4 address: 10.0.0.01:100'],
    [
      '65535:4294967296',
      'RT format with 2-byte ASN must have ASN:MN where MN <= 4294967295: 65535:4294967296',
    ],
    ['100000:65536', 'RT format with 4-byte ASN must have ASN:MN where MN <= 65535: 100000:65536'],
  ];
  for (const [rt, msg] of invalid) {
    it(`rejects ${JSON.stringify(rt)}`, () => {
      assert.deepEqual(issuesOf(l3vni({ exportRTs: [rt] })), [rtIssue('exportRTs', 0, msg)]);
      assert.deepEqual(issuesOf(l3vni({ importRTs: ['64514:100', rt] })), [rtIssue('importRTs', 1, msg)]);
    });
  }
  const valid = [
    '65000:100',
    '64514:2000',
    '65535:4294967295',
    '100000:100',
    '100000:65535',
    '4294967295:65535',
    '10.0.0.1:100',
    '10.0.0.1:65535',
    '192.0.2.10:2000',
  ];
  it(`accepts 2-byte, 4-byte and IPv4 forms: ${valid.join(', ')}`, () => {
    const o = validObject(l3vni({ exportRTs: valid, importRTs: [...valid].reverse() }));
    assert.deepEqual(specOf(o)['exportRTs'], valid);
  });
  it('reports every bad route target, in both lists', () => {
    assert.deepEqual(
      issuesOf(l3vni({ exportRTs: ['x', '64514:1'], importRTs: ['64514:1', '1.2.3.4:70000'] })),
      [
        rtIssue('importRTs', 1, 'RT format must have A.B.C.D:MN where MN <= 65535: 1.2.3.4:70000'),
        rtIssue('exportRTs', 0, formats('x')),
      ],
    );
  });
  it('limits route targets to 21 characters and 100 entries (schema)', () => {
    assert.deepEqual(issuesOf(l3vni({ exportRTs: ['4294967295:4294967295'] })), [
      rtIssue(
        'exportRTs',
        0,
        'RT format with 4-byte ASN must have ASN:MN where MN <= 65535: 4294967295:4294967295',
      ),
    ]);
    assert.deepEqual(issuesOf(l3vni({ exportRTs: ['4294967295:42949672950'] })), [
      'spec.exportRTs[0]: Too long: may not be more than 21 bytes ("4294967295:42949672950")',
    ]);
    assert.deepEqual(issuesOf(l3vni({ importRTs: Array.from({ length: 101 }, (_, i) => `64514:${i}`) })), [
      'spec.importRTs: Too many: 101: must have at most 100 items',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// e. Per-object semantic rules.

describe('per-object rules', () => {
  it('rejects duplicate neighbor addresses, comparing IPs not text', () => {
    assert.deepEqual(
      issuesOf(underlay({ neighbors: [tor(), { type: 'External', address: '192.168.11.2' }] })),
      [
        'spec.neighbors[1].address: underlay underlay has duplicate neighbor address: duplicate entry 192.168.11.2',
      ],
    );
    assert.deepEqual(
      issuesOf(
        underlay({
          neighbors: [
            { asn: 64512, address: '2001:db8::1' },
            { asn: 64513, address: '2001:db8::2' },
            { asn: 64512, address: '2001:DB8:0::1' },
          ],
        }),
      ),
      [
        'spec.neighbors[2].address: underlay underlay has duplicate neighbor address: duplicate entry 2001:DB8:0::1',
      ],
    );
    assert.deepEqual(issuesOf(underlay({ neighbors: [tor(), { asn: 64512, address: '192.168.12.2' }] })), []);
  });
  it('rejects duplicate interface names (CNI devices default to net1)', () => {
    assert.deepEqual(issuesOf(underlay({ interfaces: [nic('toswitch'), nic('eth1'), nic('toswitch')] })), [
      'spec.interfaces[2]: underlay underlay has invalid interfaces: duplicate underlay interface name toswitch',
    ]);
    assert.deepEqual(issuesOf(underlay({ interfaces: [cniIface(), cniIface({ interfaceName: 'net1' })] })), [
      ns('spec.interfaces[0].cniDevice'),
      ns('spec.interfaces[1].cniDevice'),
      'spec.interfaces[1]: underlay underlay has invalid interfaces: duplicate underlay interface name net1',
    ]);
  });
  it('rejects gatewayIPs that are not IP/prefix, or two of the same family', () => {
    assert.deepEqual(issuesOf(l2vni({ gatewayIPs: ['10.100.0.1'] })), [
      'spec.gatewayIPs: invalid gatewayIPs for vni "web" = [10.100.0.1]: 10.100.0.1 is not a valid IP/prefix',
    ]);
    assert.deepEqual(issuesOf(l2vni({ gatewayIPs: ['10.100.0.1/24', 'gw'] })), [
      'spec.gatewayIPs: invalid gatewayIPs for vni "web" = [10.100.0.1/24 gw]: gw is not a valid IP/prefix',
    ]);
    assert.deepEqual(issuesOf(l2vni({ gatewayIPs: ['10.100.0.1/24', '10.101.0.1/24'] })), [
      'spec.gatewayIPs: invalid gatewayIPs for vni "web" = [10.100.0.1/24 10.101.0.1/24]: two gateway IPs must be one IPv4 and one IPv6',
    ]);
    assert.deepEqual(issuesOf(l2vni({ gatewayIPs: ['fd10::1/64', 'fd11::1/64'] })), [
      'spec.gatewayIPs: invalid gatewayIPs for vni "web" = [fd10::1/64 fd11::1/64]: two gateway IPs must be one IPv4 and one IPv6',
    ]);
    assert.deepEqual(issuesOf(l2vni({ gatewayIPs: ['fd10:100::1/64', '10.100.0.1/24'] })), []);
  });
  it('rejects a localCIDR that is not a CIDR or of the wrong family', () => {
    const l3 = (localCIDR: Doc) => l3vni({ hostSession: hostSession({ localCIDR }) });
    assert.deepEqual(issuesOf(l3({ ipv4: '192.169.10.0' })), [
      'spec.hostSession.localCIDR.ipv4: invalid local CIDR 192.169.10.0 for vni red: not a valid CIDR',
    ]);
    assert.deepEqual(issuesOf(l3({ ipv4: 'fd00::/64' })), [
      'spec.hostSession.localCIDR.ipv4: invalid local CIDR fd00::/64 for vni red: not an IPv4 CIDR',
    ]);
    assert.deepEqual(issuesOf(l3({ ipv4: '192.169.10.0/24', ipv6: '192.169.11.0/24' })), [
      'spec.hostSession.localCIDR.ipv6: invalid local CIDR 192.169.11.0/24 for vni red: not an IPv6 CIDR',
    ]);
    assert.deepEqual(issuesOf(passthrough({ hostSession: hostSession({ localCIDR: { ipv6: 'pool' } }) })), [
      'spec.hostSession.localCIDR.ipv6: invalid local CIDR pool for l3passthrough passthrough: not a valid CIDR',
    ]);
  });
  it('rejects node selector operators other than In/NotIn/Exists/DoesNotExist, and In without values', () => {
    const sel = (e: Doc) => ({ nodeSelector: { matchExpressions: [{ key: 'example.com/storage', ...e }] } });
    assert.deepEqual(issuesOf(l3vni(sel({ operator: 'Foo' }))), [
      'spec.nodeSelector.matchExpressions[0].operator: Unsupported value: "Foo": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    ]);
    assert.deepEqual(issuesOf(l2vni(sel({ operator: 'In' }))), [
      'spec.nodeSelector.matchExpressions[0].values: Required value: must be specified when operator is In',
    ]);
    assert.deepEqual(issuesOf(underlay(sel({ operator: 'NotIn', values: [] }))), [
      'spec.nodeSelector.matchExpressions[0].values: Required value: must be specified when operator is NotIn',
    ]);
    assert.deepEqual(issuesOf(passthrough(sel({ operator: 'Exists', values: ['true'] }))), [
      'spec.nodeSelector.matchExpressions[0].values: Forbidden: may not be specified when operator is Exists',
    ]);
    // RawFRRConfig has no node-aware webhook upstream (G16): here its selector is checked like the others.
    assert.deepEqual(issuesOf(rawFRR(sel({ operator: 'in', values: ['true'] }))), [
      'spec.nodeSelector.matchExpressions[0].operator: Unsupported value: "in": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    ]);
    assert.deepEqual(issuesOf(l3vni(sel({ operator: 'In', values: ['true'] }))), []);
    assert.deepEqual(issuesOf(l3vni({ nodeSelector: {} })), []);
  });
  it('rejects password and passwordSecret together', () => {
    assert.deepEqual(issuesOf(withNeighbor({ ...tor(), password: 's3cr3t', passwordSecret: 'bgp-auth' })), [
      'spec.neighbors[0]: password and passwordSecret cannot be set together',
    ]);
    assert.deepEqual(issuesOf(withNeighbor({ ...tor(), password: 's3cr3t' })), []);
  });
  it('rejects a router-id pool that is not an IPv4 CIDR', () => {
    assert.deepEqual(issuesOf(underlay({ routerIDCIDR: '10.0.0.0' })), [
      'spec.routerIDCIDR: invalid router id pool "10.0.0.0": must be an IPv4 CIDR',
    ]);
    assert.deepEqual(issuesOf(underlay({ routerIDCIDR: 'fd00::/64' })), [
      'spec.routerIDCIDR: invalid router id pool "fd00::/64": must be an IPv4 CIDR',
    ]);
  });
  it('rejects a blank RawFRRConfig', () => {
    assert.deepEqual(issuesOf(rawFRR({ rawConfig: ' \n\t' })), [
      'spec.rawConfig: rawConfig must not be empty',
    ]);
  });
  it('allows iBGP with the host on L3Passthrough (no hostASN != asn rule)', () => {
    assert.deepEqual(issuesOf(passthrough({ hostSession: hostSession({ hostASN: 64514 }) })), []);
  });
});

// ---------------------------------------------------------------------------------------------------------
// f. Features not supported yet.

describe('not supported yet', () => {
  const cases: [string, Doc, string[]][] = [
    ['CNIDevice interfaces', underlay({ interfaces: [cniIface()] }), [ns('spec.interfaces[0].cniDevice')]],
    ['spec.isis', underlay({ isis: isis() }), [ns('spec.isis')]],
    // srv6 requires isis (CEL), so both are reported.
    ['spec.srv6', srv6Underlay(), [ns('spec.isis'), ns('spec.srv6')]],
    ['spec.routeReflector', underlay({ routeReflector: {} }), [ns('spec.routeReflector')]],
    [
      'neighbor listenRange',
      underlay({ neighbors: [tor(), { type: 'Internal', listenRange: '192.168.12.0/24' }] }),
      [ns('spec.neighbors[1].listenRange')],
    ],
    [
      'neighbor interface',
      withNeighbor({ type: 'External', interface: 'eth1' }),
      [ns('spec.neighbors[0].interface')],
    ],
    [
      'ipv4vpn address family',
      withNeighbor({
        asn: 64520,
        address: '2001:db8::1',
        addressFamilies: [{ type: 'ipv4unicast' }, { type: 'ipv4vpn' }],
      }),
      [ns('spec.neighbors[0].addressFamilies[1].type')],
    ],
    [
      'ipv6vpn address family',
      withNeighbor({ asn: 64520, address: '2001:db8::1', addressFamilies: [{ type: 'ipv6vpn' }] }),
      [ns('spec.neighbors[0].addressFamilies[0].type')],
    ],
    [
      'address-family properties (routeReflectorClient)',
      withNeighbor(rrClientNeighbor({ type: 'Internal' })),
      [ns('spec.neighbors[0].addressFamilies[0].properties[0]')],
    ],
    [
      'L2VNI OVS bridge (External)',
      l2vni({ hostMaster: { type: 'OVSBridge', ovsBridge: { lifecycle: 'External', name: 'br-ex' } } }),
      [ns('spec.hostMaster.ovsBridge')],
    ],
    [
      'L2VNI OVS bridge (Managed)',
      l2vni({ hostMaster: { type: 'OVSBridge', ovsBridge: { lifecycle: 'Managed' } } }),
      [ns('spec.hostMaster.ovsBridge')],
    ],
    [
      'L2VNI routingDomain.l3vpn',
      l2vni({ routingDomain: { type: 'L3VPN', l3vpn: { name: 'red' } } }),
      [ns('spec.routingDomain.l3vpn')],
    ],
    ['kind L3VPN', l3vpn(), [L3VPN_NOT_SUPPORTED]],
  ];
  for (const [what, doc, want] of cases) {
    it(what, () => {
      const v = validateObject(doc);
      assert.deepEqual(v.issues.map(fmt), want);
      assert.equal(v.object, undefined, 'an unsupported object must not be returned');
    });
  }
  it('reports the whole L3VPN kind on the object, not on a field', () => {
    const [issue] = validateObject(l3vpn()).issues;
    assert.deepEqual(issue, {
      kind: 'L3VPN',
      name: 'red',
      namespace: NS,
      field: '',
      message: L3VPN_NOT_SUPPORTED,
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// g. The example manifests of api.md §7.

/** Exact issues per document of each example file (X3 is checked separately: rejected for its group). */
const EXAMPLE_EXPECTATIONS: Record<string, string[][]> = {
  'v01-minimal-evpn.yaml': [[], []],
  'v02-l2vni-linux-bridge-gateway.yaml': [[], [], []],
  'v03-l2vnis-one-routing-domain.yaml': [[], [], [], [ns('spec.hostMaster.ovsBridge')]],
  'v04-disconnected-l2vnis.yaml': [[], [ns('spec.hostMaster.ovsBridge')], []],
  'v05-l3passthrough.yaml': [[], []],
  'v06-dual-stack.yaml': [[], [], []],
  'v07-ipv6-vtep.yaml': [[], [], []],
  'v08-session-tuning-rawfrrconfig.yaml': [[], []],
  'v09-node-selectors.yaml': [[], [], [], []],
  'v10-route-reflector.yaml': [
    [
      ns('spec.routeReflector'),
      ns('spec.neighbors[0].listenRange'),
      ns('spec.neighbors[0].addressFamilies[0].properties[0]'),
      ns('spec.neighbors[0].addressFamilies[1].properties[0]'),
    ],
    [],
    [],
  ],
  'v11-cni-underlay-unnumbered.yaml': [
    [ns('spec.interfaces[0].cniDevice')],
    [ns('spec.neighbors[0].interface')],
  ],
  'v12-srv6-l3vpn.yaml': [
    [
      ns('spec.isis'),
      ns('spec.srv6'),
      ns('spec.neighbors[0].addressFamilies[1].type'),
      ns('spec.neighbors[0].addressFamilies[2].type'),
    ],
    [L3VPN_NOT_SUPPORTED],
    [ns('spec.routingDomain.l3vpn')],
  ],
  'x1-gateway-without-routing-domain.yaml': [['spec: gatewayIPs cannot be set without routingDomain']],
  'x2-named-managed-bridge.yaml': [
    [
      'spec.hostMaster.linuxBridge: name must be set when lifecycle is External, and must not be set when it is Managed.',
    ],
  ],
  'x4-neighbor-asn-and-type-half-timers.yaml': [
    [
      'spec.neighbors[0]: ASN and Type cannot be set together',
      'spec.neighbors[0]: holdTimeSeconds and keepaliveTimeSeconds must be both set or both unset',
    ],
  ],
  'x5-cluster-id-in-router-id-pool.yaml': [
    ['spec: routeReflector.clusterID must be outside the routerIDCIDR range'],
  ],
  // Cross-object rules (webhook / controller): each object is valid on its own.
  'x6-two-underlays-one-node.yaml': [[], []],
  'x7-vni-reused-across-kinds.yaml': [[], [], []],
  'x8-host-session-overlap.yaml': [[], [], []],
};
const X3_FILE = 'x3-old-group-manifest.yaml';

describe('example manifests (examples/api, api.md §7)', () => {
  it('has one file per example V1–V12 and X1–X8, each with an expectation', () => {
    const files = readdirSync(EXAMPLES_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.deepEqual(files, [...Object.keys(EXAMPLE_EXPECTATIONS), X3_FILE].sort());
    assert.equal(files.filter((f) => f.startsWith('v')).length, 12);
    assert.equal(files.filter((f) => f.startsWith('x')).length, 8);
  });

  it('starts every file with a comment saying what it shows (and why, for invalid ones)', () => {
    for (const f of readdirSync(EXAMPLES_DIR).filter((n) => n.endsWith('.yaml'))) {
      const first = readFileSync(join(EXAMPLES_DIR, f), 'utf8').split('\n')[0] ?? '';
      const id = f.startsWith('v') ? `V${Number(f.slice(1, 3))}` : f.slice(0, 2).toUpperCase();
      assert.ok(first.startsWith(`# ${id} - `), `${f}: first line ${JSON.stringify(first)}`);
      if (f.startsWith('x')) assert.ok(first.includes('INVALID'), `${f}: first line must say INVALID`);
    }
  });

  for (const [file, perDoc] of Object.entries(EXAMPLE_EXPECTATIONS)) {
    it(file, () => {
      const docs = loadExample(file);
      assert.equal(docs.length, perDoc.length, 'number of documents');
      docs.forEach((doc, i) => {
        const v = validateObject(doc, { source: { file, document: i } });
        const want = perDoc[i] ?? [];
        assert.deepEqual(v.issues.map(fmt), want, `${file} document ${i + 1}`);
        const meta = (doc as Doc)['metadata'] as Doc;
        for (const issue of v.issues) {
          assert.equal(issue.kind, (doc as Doc)['kind']);
          assert.equal(issue.name, meta['name']);
          assert.deepEqual(issue.source, { file, document: i });
        }
        if (file.startsWith('v')) {
          // Valid examples: only "not supported yet" issues, and objects without issues are returned.
          for (const issue of v.issues) assert.match(issue.message, /^not supported yet: /);
        }
        if (want.length === 0) {
          assert.equal(v.object?.kind, (doc as Doc)['kind']);
          assert.equal(v.object?.metadata.name, meta['name']);
          assert.equal(v.object?.metadata.namespace, NS);
        } else {
          assert.equal(v.object, undefined);
        }
      });
    });
  }

  it(`${X3_FILE}: rejected for its group before any field check`, () => {
    const docs = loadExample(X3_FILE);
    assert.equal(docs.length, 1);
    const v = validateObject(docs[0]);
    assert.deepEqual(
      v.issues.map((i) => i.field),
      [''],
    );
    const message = v.issues[0]?.message ?? '';
    assert.ok(
      message.startsWith(
        'no matches for kind "Underlay" in version "openpe.openperouter.github.io/v1alpha1"',
      ),
      message,
    );
    assert.ok(message.includes('network.openperouter.io'), message);
  });

  it('the supported valid examples validate with the values api.md describes', () => {
    const [u, red] = loadExample('v01-minimal-evpn.yaml').map((d) => validObject(d as Doc));
    assert.equal(specOf(u!)['routerIDCIDR'], '10.0.0.0/24');
    assert.deepEqual(specOf(u!)['tunnelEndpoint'], { cidrs: ['100.65.0.0/24'] });
    assert.equal(specOf(red!)['vxlanPort'], 4789);
    const [v8u, raw] = loadExample('v08-session-tuning-rawfrrconfig.yaml').map((d) => validObject(d as Doc));
    assert.deepEqual(specOf(v8u!)['gracefulRestart'], { restartTimeSeconds: 180, stalePathTimeSeconds: 600 });
    assert.equal(specOf(raw!)['priority'], 10);
  });
});
