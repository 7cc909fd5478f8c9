import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssue } from '../src/api/issues.js';
import { API_VERSION } from '../src/api/kinds.js';
import { loadText, toSnapshot } from '../src/api/load.js';
import {
  applyNodeRules,
  type NodeRuleOptions,
  type NodeSelection,
  routingDomainOf,
  selectForNode,
} from '../src/api/node-rules.js';
import {
  type ApiSnapshot,
  type L2VNI,
  type L3Passthrough,
  type L3VNI,
  objectKey,
  type RawFRRConfig,
  type RoutingObject,
  type Underlay,
} from '../src/api/types.js';
import { validateObject } from '../src/api/validate-object.js';

const NS = 'openperouter-system';

// ---------------------------------------------------------------------------------------------------
// Builders: every object goes through validateObject, so defaults are applied exactly as in production.

function build(kind: string, name: string, spec: Record<string, unknown>, namespace = NS): RoutingObject {
  const v = validateObject({ apiVersion: API_VERSION, kind, metadata: { name, namespace }, spec });
  assert.deepEqual(v.issues.map(formatIssue), [], `${kind} ${name} must be valid`);
  assert.ok(v.object);
  return v.object;
}

function underlay(
  name = 'underlay',
  extra: Record<string, unknown> = { tunnelEndpoint: { cidrs: ['100.65.0.0/24'] } },
  namespace = NS,
): Underlay {
  return build(
    'Underlay',
    name,
    {
      asn: 64514,
      interfaces: [{ type: 'NetworkDevice', networkDevice: { interfaceName: 'toswitch' } }],
      neighbors: [{ asn: 64512, address: '192.168.11.2' }],
      ...extra,
    },
    namespace,
  ) as Underlay;
}

interface L3Opts {
  vrf?: string;
  namespace?: string;
  ipv4?: string;
  ipv6?: string;
  family?: 'IPv4' | 'IPv6';
}
function l3vni(name: string, vni: number, o: L3Opts = {}): L3VNI {
  const local = { ...(o.ipv4 ? { ipv4: o.ipv4 } : {}), ...(o.ipv6 ? { ipv6: o.ipv6 } : {}) };
  return build(
    'L3VNI',
    name,
    {
      vrf: o.vrf ?? name,
      vni,
      ...(o.family ? { underlayAddressFamily: o.family } : {}),
      ...(o.ipv4 || o.ipv6 ? { hostSession: { asn: 64514, hostASN: 64515, localCIDR: local } } : {}),
    },
    o.namespace ?? NS,
  ) as L3VNI;
}

interface L2Opts {
  ref?: string;
  namespace?: string;
  gateways?: string[];
  family?: 'IPv4' | 'IPv6';
}
function l2vni(name: string, vni: number, o: L2Opts = {}): L2VNI {
  return build(
    'L2VNI',
    name,
    {
      vni,
      ...(o.family ? { underlayAddressFamily: o.family } : {}),
      ...(o.ref ? { routingDomain: { type: 'L3VNI', l3vni: { name: o.ref } } } : {}),
      ...(o.gateways ? { gatewayIPs: o.gateways } : {}),
    },
    o.namespace ?? NS,
  ) as L2VNI;
}

function passthrough(name: string, local: { ipv4?: string; ipv6?: string }, namespace = NS): L3Passthrough {
  return build(
    'L3Passthrough',
    name,
    { hostSession: { asn: 64514, hostASN: 64516, localCIDR: local } },
    namespace,
  ) as L3Passthrough;
}

function raw(name: string, namespace: string, rawConfig = 'log syslog debugging'): RawFRRConfig {
  return build('RawFRRConfig', name, { rawConfig }, namespace) as RawFRRConfig;
}

function snapshot(objects: RoutingObject[]): ApiSnapshot {
  return toSnapshot(objects);
}

function yamlSnapshot(text: string): ApiSnapshot {
  const r = loadText(text, 'test.yaml');
  assert.deepEqual(r.issues.map(formatIssue), []);
  return toSnapshot(r.objects);
}

function run(
  objects: RoutingObject[] | ApiSnapshot,
  labels: Record<string, string> = {},
  opts?: NodeRuleOptions,
) {
  const snap = Array.isArray(objects) ? snapshot(objects) : objects;
  return applyNodeRules(selectForNode(snap, labels), opts);
}

/** Accepted objects as `Kind ns/name`, in the order of the accepted snapshot. */
function acceptedKeys(r: NodeSelection): string[] {
  const a = r.accepted;
  return [...a.underlays, ...a.l3vnis, ...a.l2vnis, ...a.l3passthroughs, ...a.l3vpns, ...a.rawFRRConfigs].map(
    objectKey,
  );
}

/** Failures as [`Kind ns/name`, reason, message]. */
function failureRows(r: NodeSelection): [string, string, string][] {
  return r.failures.map((f) => [objectKey(f.object), f.reason, f.message]);
}

const k = (kind: string, name: string, namespace = NS) => `${kind} ${namespace}/${name}`;

// The manifests of api.md §7 that the tests below rely on.
const V1 = `
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata:
  name: underlay
  namespace: openperouter-system
spec:
  asn: 64514
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch
  neighbors:
    - asn: 64512
      address: 192.168.11.2
  tunnelEndpoint:
    cidrs:
      - 100.65.0.0/24
---
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata:
  name: red
  namespace: openperouter-system
spec:
  vrf: red
  vni: 100
  hostSession:
    asn: 64514
    hostASN: 64515
    localCIDR:
      ipv4: 192.169.10.0/24
`;

const V5_PASSTHROUGH = `
apiVersion: network.openperouter.io/v1alpha1
kind: L3Passthrough
metadata:
  name: passthrough
  namespace: openperouter-system
spec:
  hostSession:
    asn: 64514
    hostASN: 64515
    localCIDR:
      ipv4: 192.169.10.0/24
`;

const V5_UNDERLAY = `
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata:
  name: underlay
  namespace: openperouter-system
spec:
  asn: 64514
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch
  neighbors:
    - asn: 64512
      address: 192.168.11.2
`;

const X6 = `
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata:
  name: underlay
  namespace: openperouter-system
spec:
  asn: 64514
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch
  neighbors:
    - asn: 64512
      address: 192.168.11.2
---
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata:
  name: underlay-rack-1
  namespace: openperouter-system
spec:
  nodeSelector:
    matchLabels:
      topology.kubernetes.io/rack: rack-1
  asn: 64514
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: eth1
  neighbors:
    - asn: 64501
      address: 192.168.1.254
`;

const X7 = `
apiVersion: network.openperouter.io/v1alpha1
kind: L2VNI
metadata:
  name: clash
  namespace: openperouter-system
spec:
  vni: 100
  routingDomain:
    type: L3VNI
    l3vni:
      name: red
`;

const X8 = (namespace: string) => `
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata:
  name: green
  namespace: ${namespace}
spec:
  vrf: green
  vni: 300
  hostSession:
    asn: 64514
    hostASN: 64515
    localCIDR:
      ipv4: 192.169.10.128/25
`;

// ---------------------------------------------------------------------------------------------------

describe('one Underlay per node (C1 / X6)', () => {
  const snap = yamlSnapshot(X6);

  it('X6 on a rack-1 node: both Underlays fail, nothing accepted', () => {
    const r = run(snap, { 'topology.kubernetes.io/rack': 'rack-1' });
    assert.deepEqual(failureRows(r), [
      [k('Underlay', 'underlay'), 'ValidationFailed', "can't have more than one underlay per node"],
      [k('Underlay', 'underlay-rack-1'), 'ValidationFailed', "can't have more than one underlay per node"],
    ]);
    assert.deepEqual(r.accepted.underlays, []);
  });

  it('X6 on a node without the rack label: the selector-less Underlay alone, no failure', () => {
    const r = run(snap, { 'topology.kubernetes.io/rack': 'rack-2' });
    assert.deepEqual(failureRows(r), []);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay')]);
    assert.deepEqual(acceptedKeys(run(snap, {})), [k('Underlay', 'underlay')]);
  });

  it('VNIs on a node with two Underlays fail with DependencyFailed naming the real cause', () => {
    const r = run([underlay('u1'), underlay('u2'), l3vni('red', 100), l2vni('seg', 200, { ref: 'red' })]);
    assert.deepEqual(failureRows(r), [
      [k('Underlay', 'u1'), 'ValidationFailed', "can't have more than one underlay per node"],
      [k('Underlay', 'u2'), 'ValidationFailed', "can't have more than one underlay per node"],
      [
        k('L3VNI', 'red'),
        'DependencyFailed',
        '2 Underlays select this node (see their entries): L3VNI red needs exactly one',
      ],
      [
        k('L2VNI', 'seg'),
        'DependencyFailed',
        '2 Underlays select this node (see their entries): L2VNI seg needs exactly one',
      ],
    ]);
    assert.deepEqual(acceptedKeys(r), []);
  });

  it('VNIs on a node with no Underlay fail with DependencyFailed (deliberate: upstream ignores them)', () => {
    const r = run([l3vni('red', 100), l2vni('seg', 200, { ref: 'red' }), l2vni('flat', 201)]);
    assert.deepEqual(failureRows(r), [
      [
        k('L3VNI', 'red'),
        'DependencyFailed',
        'no Underlay selects this node: L3VNI red needs one with a tunnelEndpoint',
      ],
      [
        k('L2VNI', 'flat'),
        'DependencyFailed',
        'no Underlay selects this node: L2VNI flat needs one with a tunnelEndpoint',
      ],
      [
        k('L2VNI', 'seg'),
        'DependencyFailed',
        'no Underlay selects this node: L2VNI seg needs one with a tunnelEndpoint',
      ],
    ]);
  });

  it('an Underlay whose selector does not match the node is not counted', () => {
    const other = underlay('other', {
      tunnelEndpoint: { cidrs: ['100.65.0.0/24'] },
      nodeSelector: { matchExpressions: [{ key: 'rack', operator: 'In', values: ['rack-9'] }] },
    });
    const r = run([underlay(), other, l3vni('red', 100)], { rack: 'rack-1' });
    assert.deepEqual(failureRows(r), []);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3VNI', 'red')]);
  });
});

describe('one L3Passthrough per node (C8)', () => {
  it('two passthroughs: both fail', () => {
    const r = run([
      underlay(),
      passthrough('pt-b', { ipv4: '192.169.30.0/24' }),
      passthrough('pt-a', { ipv4: '192.169.40.0/24' }),
    ]);
    assert.deepEqual(failureRows(r), [
      [k('L3Passthrough', 'pt-a'), 'ValidationFailed', "can't have more than one l3passthrough per node"],
      [k('L3Passthrough', 'pt-b'), 'ValidationFailed', "can't have more than one l3passthrough per node"],
    ]);
    assert.deepEqual(r.accepted.l3passthroughs, []);
  });

  it('two passthroughs in different namespaces also clash (the rule is per node, cluster-wide)', () => {
    const r = run([
      passthrough('pt', { ipv4: '192.169.30.0/24' }, 'a'),
      passthrough('pt', { ipv4: '192.169.40.0/24' }, 'b'),
    ]);
    assert.deepEqual(
      r.failures.map((f) => objectKey(f.object)),
      ['L3Passthrough a/pt', 'L3Passthrough b/pt'],
    );
  });

  it('a passthrough on a node no Underlay selects is reported, not silently dropped', () => {
    const r = run([passthrough('pt', { ipv4: '192.169.30.0/24' })]);
    assert.deepEqual(failureRows(r), [
      [
        k('L3Passthrough', 'pt'),
        'DependencyFailed',
        'no Underlay selects this node: L3Passthrough pt needs one',
      ],
    ]);
    assert.deepEqual(r.accepted.l3passthroughs, []);
  });

  it('one passthrough on an Underlay without tunnel endpoint is fine (V5)', () => {
    const r = run(yamlSnapshot(V5_UNDERLAY + '---' + V5_PASSTHROUGH));
    assert.deepEqual(failureRows(r), []);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3Passthrough', 'passthrough')]);
  });
});

describe('L3VNI uniqueness (C5: VNI, one L3VNI per VRF)', () => {
  it('duplicate L3VNI VNI: the later one (namespace/name) fails', () => {
    const r = run([underlay(), l3vni('red', 100), l3vni('blue', 100)]);
    assert.deepEqual(failureRows(r), [
      [k('L3VNI', 'red'), 'ValidationFailed', 'duplicate vni 100:L3VNI/blue'],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3VNI', 'blue')]);
  });

  it('duplicate VRF: the later one fails', () => {
    const r = run([underlay(), l3vni('b', 101, { vrf: 'red' }), l3vni('a', 100, { vrf: 'red' })]);
    assert.deepEqual(failureRows(r), [
      [k('L3VNI', 'b'), 'ValidationFailed', 'more than one L3VNI detected in VRF "red": "a" already exists'],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3VNI', 'a')]);
  });

  it('duplicate VNI and VRF together: the VNI is reported', () => {
    const r = run([underlay(), l3vni('a', 100, { vrf: 'red' }), l3vni('b', 100, { vrf: 'red' })]);
    assert.deepEqual(failureRows(r), [[k('L3VNI', 'b'), 'ValidationFailed', 'duplicate vni 100:L3VNI/a']]);
  });

  it('an L3VNI rejected for its VRF does not reserve its VNI', () => {
    const r = run([
      underlay(),
      l3vni('a', 100, { vrf: 'red' }),
      l3vni('b', 101, { vrf: 'red' }),
      l2vni('c', 101),
    ]);
    assert.deepEqual(failureRows(r), [
      [k('L3VNI', 'b'), 'ValidationFailed', 'more than one L3VNI detected in VRF "red": "a" already exists'],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3VNI', 'a'), k('L2VNI', 'c')]);
  });

  it('the rule is cluster-wide: the same VNI in two namespaces clashes, the first namespace wins', () => {
    const r = run([
      underlay(),
      l3vni('red', 100, { namespace: 'b' }),
      l3vni('red', 100, { namespace: 'a', vrf: 'red2' }),
    ]);
    assert.deepEqual(failureRows(r), [['L3VNI b/red', 'ValidationFailed', 'duplicate vni 100:L3VNI/red']]);
  });
});

describe('VNI number space shared by L3VNIs and L2VNIs (C5 / X7)', () => {
  it('X7 after V1: the L2VNI reusing the L3VNI VNI fails', () => {
    const r = run(yamlSnapshot(V1 + '---' + X7));
    assert.deepEqual(failureRows(r), [
      [k('L2VNI', 'clash'), 'ValidationFailed', 'duplicate vni 100:L3VNI/red'],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3VNI', 'red')]);
  });

  it('the L3VNI wins even when the L2VNI comes first in namespace/name order', () => {
    const r = run([underlay(), l3vni('zz', 100), l2vni('aa', 100, { namespace: 'a-first' })]);
    assert.deepEqual(failureRows(r), [
      ['L2VNI a-first/aa', 'ValidationFailed', 'duplicate vni 100:L3VNI/zz'],
    ]);
  });

  it('L2VNI clashing with an L2VNI: the later one fails', () => {
    const r = run([underlay(), l2vni('seg-b', 200), l2vni('seg-a', 200)]);
    assert.deepEqual(failureRows(r), [
      [k('L2VNI', 'seg-b'), 'ValidationFailed', 'duplicate vni 200:L2VNI/seg-a'],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L2VNI', 'seg-a')]);
  });

  it('an L2VNI that fails its reference does not reserve its VNI', () => {
    const r = run([underlay(), l2vni('a', 200, { ref: 'missing' }), l2vni('b', 200)]);
    assert.deepEqual(failureRows(r), [
      [k('L2VNI', 'a'), 'DependencyFailed', 'referenced L3VNI "missing" not found'],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L2VNI', 'b')]);
  });
});

describe('host-session pools disjoint (W22 / X8, deliberate: the later object fails)', () => {
  it('X8 with V1 underlay + V5 passthrough, same namespace: "green" < "passthrough", the passthrough fails', () => {
    const snap = yamlSnapshot(`${V1.split('---')[0]}---${V5_PASSTHROUGH}---${X8(NS)}`);
    const r = run(snap);
    assert.deepEqual(failureRows(r), [
      [
        k('L3Passthrough', 'passthrough'),
        'ValidationFailed',
        'overlapping cidrs 192.169.10.0/24 - 192.169.10.128/25 for vnis l3passthrough passthrough - l3vni green',
      ],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3VNI', 'green')]);
  });

  it('X8 with the L3VNI in a later namespace: the L3VNI fails with exactly the X8 message', () => {
    const snap = yamlSnapshot(`${V1.split('---')[0]}---${V5_PASSTHROUGH}---${X8('tenant')}`);
    const r = run(snap);
    assert.deepEqual(failureRows(r), [
      [
        'L3VNI tenant/green',
        'ValidationFailed',
        'overlapping cidrs 192.169.10.128/25 - 192.169.10.0/24 for vnis l3vni green - l3passthrough passthrough',
      ],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3Passthrough', 'passthrough')]);
  });

  it('X8 literally after V5 (no tunnel endpoint): the L3VNI fails on the tunnel endpoint, not the pool', () => {
    const r = run(yamlSnapshot(`${V5_UNDERLAY}---${V5_PASSTHROUGH}---${X8(NS)}`));
    assert.deepEqual(failureRows(r), [
      [
        k('L3VNI', 'green'),
        'DependencyFailed',
        'underlay tunnel endpoint configuration is required when L3VNIs are defined (Underlay underlay has no spec.tunnelEndpoint)',
      ],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3Passthrough', 'passthrough')]);
  });

  it('two L3VNIs overlapping in IPv6 only: the later fails, its L2VNIs get DependencyFailed', () => {
    const r = run([
      underlay(),
      l3vni('a', 100, { ipv4: '192.169.10.0/24', ipv6: '2001:db8:10::/64' }),
      l3vni('b', 101, { ipv4: '192.169.20.0/24', ipv6: '2001:db8:10::/48' }),
      l2vni('b-seg', 201, { ref: 'b' }),
    ]);
    assert.deepEqual(failureRows(r), [
      [
        k('L3VNI', 'b'),
        'ValidationFailed',
        'overlapping cidrs 2001:db8:10::/48 - 2001:db8:10::/64 for vnis l3vni b - l3vni a',
      ],
      [k('L2VNI', 'b-seg'), 'DependencyFailed', 'referenced L3VNI "b" not found'],
    ]);
  });

  it('pools of different families never clash; pools without overlap are all accepted', () => {
    const r = run([
      underlay(),
      l3vni('a', 100, { ipv4: '192.169.10.0/24' }),
      l3vni('b', 101, { ipv6: '2001:db8:10::/64' }),
      l3vni('c', 102, { ipv4: '192.169.11.0/24' }),
      passthrough('pt', { ipv4: '192.169.12.0/24', ipv6: '2001:db8:11::/64' }),
    ]);
    assert.deepEqual(failureRows(r), []);
    assert.equal(r.accepted.l3vnis.length, 3);
    assert.equal(r.accepted.l3passthroughs.length, 1);
  });

  it('an L3VNI without host session claims nothing', () => {
    const r = run([underlay(), l3vni('a', 100), passthrough('pt', { ipv4: '192.169.10.0/24' })]);
    assert.deepEqual(failureRows(r), []);
  });
});

describe('routing-domain references (C6)', () => {
  it('unresolved reference: DependencyFailed', () => {
    const r = run([underlay(), l3vni('red', 100), l2vni('seg', 200, { ref: 'blue' })]);
    assert.deepEqual(failureRows(r), [
      [k('L2VNI', 'seg'), 'DependencyFailed', 'referenced L3VNI "blue" not found'],
    ]);
  });

  it('a reference to an L3VNI that exists but failed is unresolved', () => {
    const r = run([underlay(), l3vni('a', 100), l3vni('b', 100), l2vni('seg', 200, { ref: 'b' })]);
    assert.deepEqual(failureRows(r), [
      [k('L3VNI', 'b'), 'ValidationFailed', 'duplicate vni 100:L3VNI/a'],
      [k('L2VNI', 'seg'), 'DependencyFailed', 'referenced L3VNI "b" not found'],
    ]);
  });

  it('a reference to an L3VNI that does not select this node is unresolved', () => {
    const elsewhere = build('L3VNI', 'red', {
      vrf: 'red',
      vni: 100,
      nodeSelector: { matchLabels: { rack: 'rack-2' } },
    }) as L3VNI;
    const r = run([underlay(), elsewhere, l2vni('seg', 200, { ref: 'red' })], { rack: 'rack-1' });
    assert.deepEqual(failureRows(r), [
      [k('L2VNI', 'seg'), 'DependencyFailed', 'referenced L3VNI "red" not found'],
    ]);
  });

  it('ambiguous reference (same name in two other namespaces): DependencyFailed (deliberate)', () => {
    const r = run([
      underlay(),
      l3vni('red', 100, { namespace: 'ns-b', vrf: 'red-b' }),
      l3vni('red', 101, { namespace: 'ns-a', vrf: 'red-a' }),
      l2vni('seg', 200, { ref: 'red', namespace: 'ns-c' }),
    ]);
    assert.deepEqual(failureRows(r), [
      [
        'L2VNI ns-c/seg',
        'DependencyFailed',
        'referenced L3VNI "red" is ambiguous: it exists in namespaces ns-a, ns-b',
      ],
    ]);
  });

  it('references prefer the L2VNI own namespace; a unique name resolves across namespaces', () => {
    const redA = l3vni('red', 100, { namespace: 'ns-a', vrf: 'red-a' });
    const redB = l3vni('red', 101, { namespace: 'ns-b', vrf: 'red-b' });
    const blue = l3vni('blue', 102, { namespace: 'ns-a' });
    const inB = l2vni('seg-b', 200, { ref: 'red', namespace: 'ns-b' });
    const inC = l2vni('seg-c', 201, { ref: 'blue', namespace: 'ns-c' });
    const r = run([underlay(), redA, redB, blue, inB, inC]);
    assert.deepEqual(failureRows(r), []);
    assert.equal(routingDomainOf(inB, r.accepted.l3vnis), redB);
    assert.equal(routingDomainOf(inC, r.accepted.l3vnis), blue);
  });

  it('the L2VNI must itself have a tunnel endpoint even when its L3VNI is fine', () => {
    const r = run([underlay(), l3vni('red', 100), l2vni('seg', 200, { ref: 'red', family: 'IPv6' })]);
    assert.deepEqual(failureRows(r), [
      [k('L2VNI', 'seg'), 'DependencyFailed', 'IPv6 address family requested but no IPv6 VTEP IP available'],
    ]);
  });
});

describe('VRF subnet overlap (C7: the owner and every L2VNI of the VRF fail)', () => {
  it('gateway overlapping the owner host-session pool', () => {
    const r = run([
      underlay(),
      l3vni('red', 100, { ipv4: '192.169.10.0/24' }),
      l2vni('seg-a', 200, { ref: 'red', gateways: ['192.169.10.1/24'] }),
      l2vni('seg-b', 201, { ref: 'red', gateways: ['10.1.0.1/24'] }),
      l3vni('blue', 101),
      l2vni('seg-blue', 202, { ref: 'blue', gateways: ['192.169.10.1/24'] }),
      l2vni('flat', 203),
    ]);
    const msg =
      'subnet overlap in VRF "red": IPNet 192.169.10.0/24 (L3VNI red) overlaps with IPNet 192.169.10.0/24 (L2VNI seg-a)';
    assert.deepEqual(failureRows(r), [
      [k('L3VNI', 'red'), 'ValidationFailed', msg],
      [k('L2VNI', 'seg-a'), 'ValidationFailed', msg],
      [k('L2VNI', 'seg-b'), 'ValidationFailed', msg],
    ]);
    assert.deepEqual(acceptedKeys(r), [
      k('Underlay', 'underlay'),
      k('L3VNI', 'blue'),
      k('L2VNI', 'flat'),
      k('L2VNI', 'seg-blue'),
    ]);
  });

  it('two gateways of one VRF overlapping each other (IPv6)', () => {
    const r = run([
      underlay(),
      l3vni('red', 100),
      l2vni('a', 200, { ref: 'red', gateways: ['10.1.0.1/24', 'fd10::1/64'] }),
      l2vni('b', 201, { ref: 'red', gateways: ['fd10::1:1/112'] }),
    ]);
    const msg =
      'subnet overlap in VRF "red": IPNet fd10::/64 (L2VNI a) overlaps with IPNet fd10::1:0/112 (L2VNI b)';
    assert.deepEqual(failureRows(r), [
      [k('L3VNI', 'red'), 'ValidationFailed', msg],
      [k('L2VNI', 'a'), 'ValidationFailed', msg],
      [k('L2VNI', 'b'), 'ValidationFailed', msg],
    ]);
  });

  it('gateways of different VRFs or families may overlap', () => {
    const r = run([
      underlay(),
      l3vni('red', 100, { ipv4: '192.169.10.0/24' }),
      l3vni('blue', 101, { ipv4: '192.169.11.0/24' }),
      l2vni('a', 200, { ref: 'red', gateways: ['10.1.0.1/24', 'fd10::1/64'] }),
      l2vni('b', 201, { ref: 'blue', gateways: ['10.1.0.1/24', 'fd10::1/64'] }),
      l2vni('c', 202, { ref: 'blue', gateways: ['192.169.10.1/24'] }),
    ]);
    assert.deepEqual(failureRows(r), []);
  });
});

describe('tunnel endpoint requirements (C10, per object here)', () => {
  it('VNIs on an Underlay without tunnelEndpoint: DependencyFailed; the passthrough is unaffected', () => {
    const r = run([
      underlay('underlay', {}),
      l3vni('red', 100),
      l2vni('seg', 200),
      passthrough('pt', { ipv4: '192.169.10.0/24' }),
    ]);
    assert.deepEqual(failureRows(r), [
      [
        k('L3VNI', 'red'),
        'DependencyFailed',
        'underlay tunnel endpoint configuration is required when L3VNIs are defined (Underlay underlay has no spec.tunnelEndpoint)',
      ],
      [
        k('L2VNI', 'seg'),
        'DependencyFailed',
        'underlay tunnel endpoint configuration is required when L2VNIs are defined (Underlay underlay has no spec.tunnelEndpoint)',
      ],
    ]);
    assert.deepEqual(acceptedKeys(r), [k('Underlay', 'underlay'), k('L3Passthrough', 'pt')]);
  });

  it('wrong underlayAddressFamily: IPv6 on an IPv4-only VTEP pool and IPv4 on an IPv6-only one', () => {
    const v4 = run([
      underlay(),
      l3vni('red', 100, { family: 'IPv6' }),
      l3vni('blue', 101, { family: 'IPv4' }),
    ]);
    assert.deepEqual(failureRows(v4), [
      [k('L3VNI', 'red'), 'DependencyFailed', 'IPv6 address family requested but no IPv6 VTEP IP available'],
    ]);
    const v6u = underlay('underlay', { tunnelEndpoint: { cidrs: ['fd00:65::/64'] } });
    const v6 = run([
      v6u,
      l3vni('red', 100, { family: 'IPv6' }),
      l2vni('seg', 200, { family: 'IPv4' }),
      l2vni('dflt', 201),
    ]);
    assert.deepEqual(failureRows(v6), [
      [k('L2VNI', 'seg'), 'DependencyFailed', 'IPv4 address family requested but no IPv4 VTEP IP available'],
    ]);
    assert.deepEqual(acceptedKeys(v6), [k('Underlay', 'underlay'), k('L3VNI', 'red'), k('L2VNI', 'dflt')]);
  });

  it('a dual-stack VTEP pool satisfies both families', () => {
    const u = underlay('underlay', { tunnelEndpoint: { cidrs: ['100.65.0.0/24', 'fd00:65::/64'] } });
    const r = run([u, l3vni('red', 100, { family: 'IPv6' }), l2vni('seg', 200, { family: 'IPv4' })]);
    assert.deepEqual(failureRows(r), []);
  });
});

describe('RawFRRConfig namespace (W25)', () => {
  const raws = [raw('ok', NS), raw('stray', 'default')];

  it('outside the operator namespace: ValidationFailed', () => {
    const r = run([underlay(), ...raws], {}, { operatorNamespace: NS });
    assert.deepEqual(failureRows(r), [
      [
        'RawFRRConfig default/stray',
        'ValidationFailed',
        'RawFRRConfig must be created in the operator namespace "openperouter-system", got "default"',
      ],
    ]);
    assert.deepEqual(r.accepted.rawFRRConfigs.map(objectKey), [k('RawFRRConfig', 'ok')]);
  });

  it('no operator namespace configured: every RawFRRConfig is accepted', () => {
    const r = run([underlay(), ...raws]);
    assert.deepEqual(failureRows(r), []);
    assert.deepEqual(r.accepted.rawFRRConfigs.map(objectKey), [
      'RawFRRConfig default/stray',
      k('RawFRRConfig', 'ok'),
    ]);
  });
});

describe('first wins in namespace/name order, whatever the input order', () => {
  function permutations<T>(xs: T[]): T[][] {
    if (xs.length <= 1) return [xs];
    return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  }

  it('every permutation of clashing objects gives the same result', () => {
    const objects: RoutingObject[] = [
      underlay(),
      l3vni('c', 100),
      l3vni('a', 100, { namespace: 'zz' }),
      l3vni('b', 101, { vrf: 'c' }),
      l2vni('d', 101),
      passthrough('p1', { ipv4: '192.169.10.0/24' }),
      passthrough('p0', { ipv4: '192.169.20.0/24' }),
    ];
    const expected = run(objects);
    assert.deepEqual(failureRows(expected), [
      [k('L3Passthrough', 'p0'), 'ValidationFailed', "can't have more than one l3passthrough per node"],
      [k('L3Passthrough', 'p1'), 'ValidationFailed', "can't have more than one l3passthrough per node"],
      [k('L3VNI', 'c'), 'ValidationFailed', 'more than one L3VNI detected in VRF "c": "b" already exists'],
      [k('L2VNI', 'd'), 'ValidationFailed', 'duplicate vni 101:L3VNI/b'],
    ]);
    // c comes before zz/a but loses VRF "c" to b, so it never claims VNI 100 and zz/a keeps it.
    assert.deepEqual(acceptedKeys(expected), [k('Underlay', 'underlay'), k('L3VNI', 'b'), 'L3VNI zz/a']);
    for (const p of permutations(objects.slice(1))) {
      const r = run([...p, objects[0]!]);
      assert.deepEqual(failureRows(r), failureRows(expected));
      assert.deepEqual(acceptedKeys(r), acceptedKeys(expected));
    }
  });

  it('namespace sorts before name: a/z beats b/a', () => {
    const r = run([underlay(), l3vni('a', 100, { namespace: 'b' }), l3vni('z', 100, { namespace: 'a' })]);
    assert.deepEqual(failureRows(r), [['L3VNI b/a', 'ValidationFailed', 'duplicate vni 100:L3VNI/z']]);
  });

  it('order is by code unit, not locale: "Blue" < "apple" and "a-b" < "a_b" (as Go sorts)', () => {
    const r1 = run([underlay(), l3vni('apple', 100), l3vni('Blue', 100)]);
    assert.deepEqual(failureRows(r1), [
      [k('L3VNI', 'apple'), 'ValidationFailed', 'duplicate vni 100:L3VNI/Blue'],
    ]);
    const r2 = run([underlay(), l2vni('a_b', 200), l2vni('a-b', 200)]);
    assert.deepEqual(failureRows(r2), [
      [k('L2VNI', 'a_b'), 'ValidationFailed', 'duplicate vni 200:L2VNI/a-b'],
    ]);
  });
});
