import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssue } from '../src/api/issues.js';
import { loadText, toSnapshot } from '../src/api/load.js';
import { type ApiSnapshot, objectKey } from '../src/api/types.js';
import type { NeighborConfig, NodeConfig, NodeFacts } from '../src/render/model.js';
import { type NodeResult, type ResolveOptions, resolveNode, vrfTable } from '../src/render/resolve.js';

const NS = 'openperouter-system';
const HEADER = `apiVersion: network.openperouter.io/v1alpha1`;

function snapshot(...docs: string[]): ApiSnapshot {
  const r = loadText(docs.join('\n---\n'), 'test.yaml');
  assert.deepEqual(r.issues.map(formatIssue), []);
  return toSnapshot(r.objects);
}

function facts(index: number, extra: Partial<NodeFacts> = {}): NodeFacts {
  return { name: `worker-${index}`, index, labels: {}, ...extra };
}

function resolve(snap: ApiSnapshot, index = 1, opts: ResolveOptions = {}): NodeResult {
  return resolveNode(snap, facts(index), opts);
}

/** Resolves and insists on a configuration without failures. */
function config(snap: ApiSnapshot, index = 1, opts: ResolveOptions = {}): NodeConfig {
  const r = resolve(snap, index, opts);
  assert.deepEqual(failureRows(r), []);
  assert.ok(r.config, 'expected a configuration');
  return r.config;
}

function failureRows(r: NodeResult): [string, string, string][] {
  return r.failures.map((f) => [objectKey(f.object), f.reason, f.message]);
}

function neighbor(c: NodeConfig, id: string): NeighborConfig {
  const n = c.underlay?.neighbors.find((x) => x.id === id);
  assert.ok(n, `neighbor ${id}`);
  return n;
}

// ----- manifest builders -------------------------------------------------------------------------

interface UnderlayOpts {
  name?: string;
  tunnel?: string[];
  neighbors?: string;
  extra?: string;
}
/** `neighbors` is the YAML list body, indented by 4 spaces. */
function underlay(o: UnderlayOpts = {}): string {
  const tunnel = o.tunnel ?? ['100.65.0.0/24'];
  return `${HEADER}
kind: Underlay
metadata:
  name: ${o.name ?? 'underlay'}
  namespace: ${NS}
spec:
  asn: 64514
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch
  neighbors:
${o.neighbors ?? '    - asn: 64512\n      address: 192.168.11.2'}
${tunnel.length > 0 ? `  tunnelEndpoint:\n    cidrs: [${tunnel.join(', ')}]` : ''}
${o.extra ?? ''}`;
}

function l3vni(name: string, vni: number, body = ''): string {
  return `${HEADER}
kind: L3VNI
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  vrf: ${name}
  vni: ${vni}
${body}`;
}

function hostSession(local: string, peer = 'hostASN: 64515'): string {
  return `  hostSession:
    asn: 64514
    ${peer}
    localCIDR: {${local}}`;
}

function l2vni(name: string, vni: number, body = ''): string {
  return `${HEADER}
kind: L2VNI
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  vni: ${vni}
${body}`;
}

function passthrough(local: string, peer = 'hostASN: 64516'): string {
  return `${HEADER}
kind: L3Passthrough
metadata:
  name: passthrough
  namespace: ${NS}
spec:
${hostSession(local, peer)}`;
}

function raw(name: string, priority: number | undefined, text: string, namespace = NS): string {
  return `${HEADER}
kind: RawFRRConfig
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${priority === undefined ? '' : `  priority: ${priority}`}
  rawConfig: "${text}"`;
}

const V1 = [underlay(), l3vni('red', 100, hostSession('ipv4: 192.169.10.0/24'))];

// ----- tests ---------------------------------------------------------------------------------------

describe('resolveNode: per-node addresses from the node index (V1)', () => {
  it('index 1: complete NodeConfig', () => {
    const c = config(snapshot(...V1), 1);
    const expected: NodeConfig = {
      node: {
        name: 'worker-1',
        index: 1,
        labels: {},
        hostname: 'worker-1',
        underlayMtu: 1500,
        logLevel: 'informational',
      },
      underlay: {
        source: { kind: 'Underlay', name: 'underlay', namespace: NS },
        asn: 64514,
        routerId: '10.0.0.2',
        interfaces: ['toswitch'],
        tunnelEndpoint: { ipv4: '100.65.0.1' },
        neighbors: [
          {
            id: '192.168.11.2',
            family: 4,
            remoteAs: 64512,
            ibgp: false,
            addressFamilies: ['ipv4unicast', 'evpn'],
            extendedNexthop: false,
          },
        ],
      },
      l3vnis: [
        {
          source: { kind: 'L3VNI', name: 'red', namespace: NS },
          vrf: 'red',
          vni: 100,
          vxlanPort: 4789,
          vtep: '100.65.0.1',
          table: 1_000_100,
          hostSession: {
            asn: 64514,
            remoteAs: 64515,
            ibgp: false,
            ipv4: { router: '192.169.10.1/24', host: '192.169.10.3/24' },
          },
          importRTs: [],
          exportRTs: [],
          gatewayNetworks: [],
        },
      ],
      l2vnis: [],
      rawFrr: [],
    };
    assert.deepEqual(c, expected);
  });

  it('index 0 gets the network address as VTEP, router id .1 and host veth .2', () => {
    const c = config(snapshot(...V1), 0);
    assert.equal(c.underlay?.routerId, '10.0.0.1');
    assert.deepEqual(c.underlay?.tunnelEndpoint, { ipv4: '100.65.0.0' });
    assert.equal(c.l3vnis[0]?.vtep, '100.65.0.0');
    assert.deepEqual(c.l3vnis[0]?.hostSession?.ipv4, { router: '192.169.10.1/24', host: '192.169.10.2/24' });
  });

  it('index 7 with a custom router-id pool and a dual-stack host session', () => {
    const snap = snapshot(
      underlay({ extra: '  routerIDCIDR: 10.255.0.0/24' }),
      l3vni('red', 100, hostSession('ipv4: 192.169.10.0/24, ipv6: 2001:db8:169:10::/64')),
    );
    const c = config(snap, 7);
    assert.equal(c.underlay?.routerId, '10.255.0.8');
    assert.equal(c.l3vnis[0]?.vtep, '100.65.0.7');
    assert.deepEqual(c.l3vnis[0]?.hostSession, {
      asn: 64514,
      remoteAs: 64515,
      ibgp: false,
      ipv4: { router: '192.169.10.1/24', host: '192.169.10.9/24' },
      ipv6: { router: '2001:db8:169:10::1/64', host: '2001:db8:169:10::9/64' },
    });
  });

  it('node facts override hostname, MTU and log level', () => {
    const r = resolveNode(snapshot(...V1), {
      name: 'n',
      index: 2,
      labels: { a: 'b' },
      hostname: 'n.example',
      underlayMtu: 9000,
      logLevel: 'debugging',
    });
    assert.deepEqual(r.config?.node, {
      name: 'n',
      index: 2,
      labels: { a: 'b' },
      hostname: 'n.example',
      underlayMtu: 9000,
      logLevel: 'debugging',
    });
  });

  it('V5 passthrough: veth addresses and session', () => {
    const c = config(
      snapshot(underlay({ tunnel: [] }), passthrough('ipv4: 192.169.10.0/24', 'hostASN: 64515')),
      1,
    );
    assert.deepEqual(c.passthrough, {
      source: { kind: 'L3Passthrough', name: 'passthrough', namespace: NS },
      hostSession: {
        asn: 64514,
        remoteAs: 64515,
        ibgp: false,
        ipv4: { router: '192.169.10.1/24', host: '192.169.10.3/24' },
      },
    });
    assert.equal(c.underlay?.tunnelEndpoint, undefined);
    assert.deepEqual(neighbor(c, '192.168.11.2').addressFamilies, ['ipv4unicast']);
  });

  it('VTEP family per VNI: IPv4 by default on dual stack, IPv6 when asked, IPv6 when it is the only one', () => {
    const dual = snapshot(
      underlay({ tunnel: ['100.65.0.0/24', 'fd00:65::/64'] }),
      l3vni('red', 100),
      l3vni('blue', 200, '  underlayAddressFamily: IPv6'),
      l2vni('seg', 300, '  underlayAddressFamily: IPv6'),
    );
    const c = config(dual, 3);
    assert.deepEqual(c.underlay?.tunnelEndpoint, { ipv4: '100.65.0.3', ipv6: 'fd00:65::3' });
    assert.deepEqual(
      c.l3vnis.map((v) => [v.vrf, v.vtep]),
      [
        ['blue', 'fd00:65::3'],
        ['red', '100.65.0.3'],
      ],
    );
    assert.equal(c.l2vnis[0]?.vtep, 'fd00:65::3');
    const v6only = config(snapshot(underlay({ tunnel: ['fd00:65::/64'] }), l3vni('red', 100)), 0);
    assert.equal(v6only.l3vnis[0]?.vtep, 'fd00:65::');
  });

  it('VRF tables, vxlanPort and route targets; L3VNIs sorted by VRF, L2VNIs by VNI', () => {
    const snap = snapshot(
      underlay(),
      l3vni(
        'zeta',
        7,
        '  vxlanPort: 4790\n  importRTs: ["64514:7", "192.0.2.10:7"]\n  exportRTs: ["64514:7"]',
      ),
      l3vni('alpha', 16777215),
      l2vni('b', 30),
      l2vni('a', 20),
    );
    const c = config(snap);
    assert.deepEqual(
      c.l3vnis.map((v) => [v.vrf, v.table, v.vxlanPort, v.importRTs, v.exportRTs]),
      [
        ['alpha', 17_777_215, 4789, [], []],
        ['zeta', 1_000_007, 4790, ['64514:7', '192.0.2.10:7'], ['64514:7']],
      ],
    );
    assert.equal(vrfTable(100), 1_000_100);
    assert.deepEqual(
      c.l2vnis.map((v) => [v.vni, v.source.name]),
      [
        [20, 'a'],
        [30, 'b'],
      ],
    );
  });
  it('L3VNIs are sorted by VRF in code-unit order, whatever the locale ("Z" < "a")', () => {
    const c = config(
      snapshot(underlay(), l3vni('blue', 1), l3vni('Zed', 2), l3vni('a_b', 3), l3vni('a-b', 4)),
    );
    assert.deepEqual(
      c.l3vnis.map((v) => v.vrf),
      ['Zed', 'a-b', 'a_b', 'blue'],
    );
  });
});

describe('resolveNode: default neighbor address families', () => {
  const v4 = '    - asn: 64512\n      address: 192.168.11.2';
  const v6 = '    - asn: 64512\n      address: 2001:db8:11::2';
  const both = `${v4}\n${v6}`;

  const cases: {
    title: string;
    docs: string[];
    id: string;
    afs: NeighborConfig['addressFamilies'];
    extendedNexthop: boolean;
  }[] = [
    {
      title: 'IPv4 neighbor, nothing else: ipv4unicast',
      docs: [underlay({ tunnel: [], neighbors: v4 })],
      id: '192.168.11.2',
      afs: ['ipv4unicast'],
      extendedNexthop: false,
    },
    {
      title: 'IPv4 neighbor with VNIs: ipv4unicast + evpn',
      docs: V1,
      id: '192.168.11.2',
      afs: ['ipv4unicast', 'evpn'],
      extendedNexthop: false,
    },
    {
      title: 'IPv6 neighbor, nothing else: ipv6unicast, no extended next hop',
      docs: [underlay({ tunnel: [], neighbors: v6 })],
      id: '2001:db8:11::2',
      afs: ['ipv6unicast'],
      extendedNexthop: false,
    },
    {
      title: 'IPv6 neighbor with VNIs: + ipv4unicast and evpn, extended next hop',
      docs: [underlay({ tunnel: ['fd00:65::/64'], neighbors: v6 }), l2vni('seg', 300)],
      id: '2001:db8:11::2',
      afs: ['ipv4unicast', 'ipv6unicast', 'evpn'],
      extendedNexthop: true,
    },
    {
      title: 'IPv6 neighbor with an IPv4 tunnel endpoint pool but no VNI: + ipv4unicast',
      docs: [underlay({ tunnel: ['100.65.0.0/24'], neighbors: v6 })],
      id: '2001:db8:11::2',
      afs: ['ipv4unicast', 'ipv6unicast'],
      extendedNexthop: true,
    },
    {
      title: 'IPv4 neighbor, passthrough with an IPv6 pool: + ipv6unicast',
      docs: [underlay({ tunnel: [], neighbors: v4 }), passthrough('ipv6: 2001:db8:169:30::/64')],
      id: '192.168.11.2',
      afs: ['ipv4unicast', 'ipv6unicast'],
      extendedNexthop: false,
    },
    {
      title: 'IPv6 neighbor, passthrough with an IPv4 pool: + ipv4unicast, extended next hop',
      docs: [underlay({ tunnel: [], neighbors: v6 }), passthrough('ipv4: 192.169.30.0/24')],
      id: '2001:db8:11::2',
      afs: ['ipv4unicast', 'ipv6unicast'],
      extendedNexthop: true,
    },
    {
      title: 'V6 dual stack: IPv4 neighbor gets all three',
      docs: [
        underlay({ tunnel: ['100.65.0.0/24', 'fd00:65::/64'], neighbors: both }),
        l3vni('red', 100, hostSession('ipv4: 192.169.10.0/24, ipv6: 2001:db8:169:10::/64')),
        passthrough('ipv4: 192.169.30.0/24, ipv6: 2001:db8:169:30::/64'),
      ],
      id: '192.168.11.2',
      afs: ['ipv4unicast', 'ipv6unicast', 'evpn'],
      extendedNexthop: false,
    },
    {
      title: 'V6 dual stack: IPv6 neighbor gets all three and extended next hop',
      docs: [
        underlay({ tunnel: ['100.65.0.0/24', 'fd00:65::/64'], neighbors: both }),
        l3vni('red', 100, hostSession('ipv4: 192.169.10.0/24, ipv6: 2001:db8:169:10::/64')),
        passthrough('ipv4: 192.169.30.0/24, ipv6: 2001:db8:169:30::/64'),
      ],
      id: '2001:db8:11::2',
      afs: ['ipv4unicast', 'ipv6unicast', 'evpn'],
      extendedNexthop: true,
    },
    {
      title: 'explicit addressFamilies replace the defaults (IPv4 neighbor, VNIs present)',
      docs: [
        underlay({ neighbors: `${v4}\n      addressFamilies: [{type: ipv6unicast}]` }),
        l3vni('red', 100),
        passthrough('ipv4: 192.169.30.0/24'),
      ],
      id: '192.168.11.2',
      afs: ['ipv6unicast'],
      extendedNexthop: false,
    },
    {
      title: 'explicit ipv4unicast on an IPv6 neighbor turns extended next hop on',
      docs: [
        underlay({
          tunnel: [],
          neighbors: `${v6}\n      addressFamilies: [{type: evpn}, {type: ipv4unicast}]`,
        }),
      ],
      id: '2001:db8:11::2',
      afs: ['ipv4unicast', 'evpn'],
      extendedNexthop: true,
    },
    {
      title: 'explicit families on an IPv6 neighbor without ipv4unicast: no extended next hop',
      docs: [underlay({ neighbors: `${v6}\n      addressFamilies: [{type: evpn}]` }), l3vni('red', 100)],
      id: '2001:db8:11::2',
      afs: ['evpn'],
      extendedNexthop: false,
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const n = neighbor(config(snapshot(...c.docs)), c.id);
      assert.deepEqual(n.addressFamilies, c.afs);
      assert.equal(n.extendedNexthop, c.extendedNexthop);
      assert.equal(n.family, c.id.includes(':') ? 6 : 4);
    });
  }

  it('VNIs that fail on this node do not count: no evpn', () => {
    const r = resolve(
      snapshot(underlay({ neighbors: v4 }), l3vni('red', 100, '  underlayAddressFamily: IPv6')),
    );
    assert.deepEqual(failureRows(r), [
      [
        'L3VNI openperouter-system/red',
        'DependencyFailed',
        'IPv6 address family requested but no IPv6 VTEP IP available',
      ],
    ]);
    assert.ok(r.config);
    assert.deepEqual(neighbor(r.config, '192.168.11.2').addressFamilies, ['ipv4unicast']);
  });
});

describe('resolveNode: session details (V8, iBGP, BFD, timers, passwords)', () => {
  const V8 = `${HEADER}
kind: Underlay
metadata:
  name: underlay
  namespace: openperouter-system
spec:
  asn: 64514
  routerIDCIDR: 10.255.0.0/24
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch1
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch2
  tunnelEndpoint:
    cidrs:
      - 100.65.0.0/24
  gracefulRestart:
    restartTimeSeconds: 180
    stalePathTimeSeconds: 600
  neighbors:
    - asn: 64512
      address: 192.168.11.2
      holdTimeSeconds: 9
      keepaliveTimeSeconds: 3
      connectTimeSeconds: 5
      bfd: {}
    - asn: 64512
      address: 192.168.12.2
      password: "s3cr3t-Passw0rd"
      bfd:
        receiveInterval: 300
        transmitInterval: 300
        detectMultiplier: 3
        sessionMode: Passive
    - asn: 64600
      address: 203.0.113.1
      properties:
        - type: ebgpMultiHop
          ebgpMultiHop:
            ttl: 4
      bfd:
        minimumTTL: 252
      addressFamilies:
        - type: ipv4unicast
`;

  it('V8 underlay: every neighbor as specified', () => {
    const c = config(snapshot(V8), 2);
    assert.equal(c.underlay?.routerId, '10.255.0.3');
    assert.deepEqual(c.underlay?.interfaces, ['toswitch1', 'toswitch2']);
    assert.deepEqual(c.underlay?.gracefulRestart, { restartTime: 180, stalePathTime: 600 });
    assert.deepEqual(c.underlay?.neighbors, [
      {
        id: '192.168.11.2',
        family: 4,
        remoteAs: 64512,
        ibgp: false,
        holdTime: 9,
        keepaliveTime: 3,
        connectTime: 5,
        bfd: {},
        addressFamilies: ['ipv4unicast'],
        extendedNexthop: false,
      },
      {
        id: '192.168.12.2',
        family: 4,
        remoteAs: 64512,
        ibgp: false,
        password: 's3cr3t-Passw0rd',
        connectTime: 5,
        bfd: {
          profile: {
            name: 'neighbor-192.168.12.2',
            receiveInterval: 300,
            transmitInterval: 300,
            detectMultiplier: 3,
            passive: true,
          },
        },
        addressFamilies: ['ipv4unicast'],
        extendedNexthop: false,
      },
      {
        id: '203.0.113.1',
        family: 4,
        remoteAs: 64600,
        ibgp: false,
        connectTime: 5,
        ebgpMultihop: { ttl: 4 },
        bfd: { profile: { name: 'neighbor-203.0.113.1', minimumTtl: 252 } },
        addressFamilies: ['ipv4unicast'],
        extendedNexthop: false,
      },
    ]);
  });

  it('iBGP: numeric asn equal to ours, or type Internal; type External is eBGP', () => {
    const neighbors = [
      '    - asn: 64514\n      address: 192.168.11.2',
      '    - type: Internal\n      address: 192.168.11.3',
      '    - type: External\n      address: 192.168.11.4',
      '    - asn: 64512\n      address: 192.168.11.5\n      properties: [{type: ebgpMultiHop}]',
    ].join('\n');
    const c = config(snapshot(underlay({ tunnel: [], neighbors })));
    assert.deepEqual(
      c.underlay?.neighbors.map((n) => [n.id, n.remoteAs, n.ibgp, n.ebgpMultihop]),
      [
        ['192.168.11.2', 64514, true, undefined],
        ['192.168.11.3', 'internal', true, undefined],
        ['192.168.11.4', 'external', false, undefined],
        ['192.168.11.5', 64512, false, {}],
      ],
    );
  });

  it('host sessions: hostType Internal and a passthrough hostASN equal to asn are iBGP', () => {
    const c = config(
      snapshot(
        underlay(),
        l3vni('red', 100, hostSession('ipv4: 192.169.10.0/24', 'hostType: Internal')),
        l3vni('blue', 200, hostSession('ipv4: 192.169.20.0/24', 'hostType: External')),
        passthrough('ipv4: 192.169.30.0/24', 'hostASN: 64514'),
      ),
    );
    assert.deepEqual(
      c.l3vnis.map((v) => [v.vrf, v.hostSession?.remoteAs, v.hostSession?.ibgp]),
      [
        ['blue', 'external', false],
        ['red', 'internal', true],
      ],
    );
    assert.deepEqual([c.passthrough?.hostSession.remoteAs, c.passthrough?.hostSession.ibgp], [64514, true]);
  });

  it('BFD profile only when a knob is set; IPv6 profile names carry the address', () => {
    const neighbors = [
      '    - asn: 64512\n      address: 192.168.11.2\n      bfd: {}',
      '    - asn: 64512\n      address: 192.168.11.3\n      bfd: {sessionMode: Active}',
      '    - asn: 64512\n      address: 2001:db8::2\n      bfd: {detectMultiplier: 5}',
      '    - asn: 64512\n      address: 192.168.11.4',
    ].join('\n');
    const c = config(snapshot(underlay({ tunnel: [], neighbors })));
    assert.deepEqual(
      c.underlay?.neighbors.map((n) => n.bfd),
      [
        {},
        { profile: { name: 'neighbor-192.168.11.3' } },
        { profile: { name: 'neighbor-2001:db8::2', detectMultiplier: 5 } },
        undefined,
      ],
    );
  });

  it('connect timer: 5 s with graceful restart unless explicit; none without graceful restart', () => {
    const neighbors =
      '    - asn: 64512\n      address: 192.168.11.2\n    - asn: 64512\n      address: 192.168.11.3\n      connectTimeSeconds: 30';
    const gr = config(snapshot(underlay({ tunnel: [], neighbors, extra: '  gracefulRestart: {}' })));
    assert.deepEqual(
      gr.underlay?.neighbors.map((n) => n.connectTime),
      [5, 30],
    );
    assert.deepEqual(gr.underlay?.gracefulRestart, { restartTime: 120, stalePathTime: 360 });
    const plain = config(snapshot(underlay({ tunnel: [], neighbors })));
    assert.deepEqual(
      plain.underlay?.neighbors.map((n) => n.connectTime),
      [undefined, 30],
    );
    assert.equal(plain.underlay?.gracefulRestart, undefined);
  });

  describe('passwordSecret', () => {
    const withSecret = (secret: string) =>
      snapshot(
        underlay({
          neighbors: `    - asn: 64512\n      address: 192.168.11.2\n      passwordSecret: ${secret}`,
        }),
      );
    const secrets: ResolveOptions = {
      secretPassword: (namespace, name) =>
        namespace === NS && name === 'bgp-auth' ? 'from-secret' : undefined,
    };

    it('resolved through opts.secretPassword in the Underlay namespace', () => {
      const c = config(withSecret('bgp-auth'), 1, secrets);
      assert.equal(neighbor(c, '192.168.11.2').password, 'from-secret');
    });

    it('missing Secret: the Underlay fails and there is no configuration', () => {
      const r = resolve(withSecret('nope'), 1, secrets);
      assert.equal(r.config, undefined);
      assert.deepEqual(failureRows(r), [
        [
          'Underlay openperouter-system/underlay',
          'ValidationFailed',
          'Underlay openperouter-system/underlay spec.neighbors[0].passwordSecret: Secret "nope" not found (or it has no key "password")',
        ],
      ]);
    });

    it('no secret lookup configured (static mode): the Underlay fails too', () => {
      const r = resolve(withSecret('bgp-auth'));
      assert.equal(r.config, undefined);
      assert.equal(r.failures.length, 1);
      assert.equal(r.failures[0]?.object.kind, 'Underlay');
    });
  });
});

describe('resolveNode: L2VNIs', () => {
  it('V2: gateway networks join the VRF, managed bridge br-hs-<vni>, gateway MAC', () => {
    const V2 = [
      l3vni('tenant-a', 1000),
      l2vni(
        'tenant-a-web',
        1100,
        `  routingDomain: {type: L3VNI, l3vni: {name: tenant-a}}
  gatewayIPs: [10.100.0.1/24, fd10:100::1/64]
  hostMaster: {type: LinuxBridge, linuxBridge: {lifecycle: Managed}}`,
      ),
    ];
    const c = config(snapshot(underlay(), ...V2), 1);
    assert.deepEqual(c.l3vnis[0]?.gatewayNetworks, ['10.100.0.0/24', 'fd10:100::/64']);
    assert.deepEqual(c.l2vnis, [
      {
        source: { kind: 'L2VNI', name: 'tenant-a-web', namespace: NS },
        vni: 1100,
        vxlanPort: 4789,
        vtep: '100.65.0.1',
        vrf: 'tenant-a',
        gatewayIPs: ['10.100.0.1/24', 'fd10:100::1/64'],
        gatewayMac: '00:f3:00:00:04:4d',
        hostBridge: { name: 'br-hs-1100', managed: true },
      },
    ]);
  });

  it('several L2VNIs in one VRF: all gateway networks, sorted; external bridge keeps its name', () => {
    const c = config(
      snapshot(
        underlay(),
        l3vni('storage', 2000, hostSession('ipv4: 192.169.20.0/24')),
        l2vni(
          'storage-b',
          2102,
          `  routingDomain: {type: L3VNI, l3vni: {name: storage}}
  gatewayIPs: [10.200.2.1/24]`,
        ),
        l2vni(
          'storage-a',
          2101,
          `  routingDomain: {type: L3VNI, l3vni: {name: storage}}
  gatewayIPs: [10.200.1.1/24]
  hostMaster: {type: LinuxBridge, linuxBridge: {lifecycle: External, name: br-storage}}`,
        ),
      ),
    );
    assert.deepEqual(c.l3vnis[0]?.gatewayNetworks, ['10.200.1.0/24', '10.200.2.0/24']);
    assert.deepEqual(
      c.l2vnis.map((v) => [v.vni, v.vrf, v.gatewayMac, v.hostBridge]),
      [
        [2101, 'storage', '00:f3:00:00:08:36', { name: 'br-storage', managed: false }],
        [2102, 'storage', '00:f3:00:00:08:37', undefined],
      ],
    );
  });

  it('a disconnected L2VNI has no VRF, no gateway MAC and no bridge', () => {
    const c = config(snapshot(underlay(), l2vni('east-west-raw', 3001)));
    assert.deepEqual(c.l2vnis, [
      {
        source: { kind: 'L2VNI', name: 'east-west-raw', namespace: NS },
        vni: 3001,
        vxlanPort: 4789,
        vtep: '100.65.0.1',
        gatewayIPs: [],
      },
    ]);
    assert.deepEqual(c.l3vnis, []);
  });
});

describe('resolveNode: IPAM failures', () => {
  const snap = () =>
    snapshot(
      underlay(),
      l3vni('red', 100, hostSession('ipv4: 192.169.10.0/30')),
      l3vni('blue', 200, hostSession('ipv4: 192.169.20.0/24')),
      l2vni(
        'red-seg',
        300,
        '  routingDomain: {type: L3VNI, l3vni: {name: red}}\n  gatewayIPs: [10.30.0.1/24]',
      ),
      l2vni('blue-seg', 301, '  routingDomain: {type: L3VNI, l3vni: {name: blue}}'),
    );

  it('a /30 host-session pool serves node indexes 0 and 1', () => {
    const c = config(snap(), 1);
    const red = c.l3vnis.find((v) => v.vrf === 'red');
    assert.deepEqual(red?.hostSession?.ipv4, { router: '192.169.10.1/30', host: '192.169.10.3/30' });
  });

  it('index 2 outside the /30: only that L3VNI fails, its L2VNIs get DependencyFailed', () => {
    const r = resolve(snap(), 2);
    assert.deepEqual(failureRows(r), [
      [
        'L3VNI openperouter-system/red',
        'ValidationFailed',
        'L3VNI openperouter-system/red spec.hostSession.localCIDR: node index 2 needs address #4 of veth IPv4 pool 192.169.10.0/30 (veth host side), but the pool only has 4 addresses (#0..#3): use a larger pool',
      ],
      ['L2VNI openperouter-system/red-seg', 'DependencyFailed', 'L3 domain "red" failed, see its own entry'],
    ]);
    assert.ok(r.config);
    assert.deepEqual(
      r.config.l3vnis.map((v) => v.vrf),
      ['blue'],
    );
    assert.deepEqual(
      r.config.l2vnis.map((v) => [v.source.name, v.vrf]),
      [['blue-seg', 'blue']],
    );
    assert.equal(r.config.underlay?.routerId, '10.0.0.3');
  });

  it('a failed passthrough pool neither configures the passthrough nor adds its family', () => {
    const r = resolve(
      snapshot(underlay({ tunnel: [] }), passthrough('ipv4: 192.169.30.0/24, ipv6: 2001:db8:30::/126')),
      3,
    );
    assert.deepEqual(failureRows(r), [
      [
        'L3Passthrough openperouter-system/passthrough',
        'ValidationFailed',
        'L3Passthrough openperouter-system/passthrough spec.hostSession.localCIDR: node index 3 needs address #5 of veth IPv6 pool 2001:db8:30::/126 (veth host side), but the pool only has 4 addresses (#0..#3): use a larger pool',
      ],
    ]);
    assert.equal(r.config?.passthrough, undefined);
    assert.deepEqual(r.config && neighbor(r.config, '192.168.11.2').addressFamilies, ['ipv4unicast']);
  });

  it('router-id pool too small: the Underlay fails and there is no configuration', () => {
    const snap2 = snapshot(underlay({ extra: '  routerIDCIDR: 10.0.0.0/30' }), l3vni('red', 100));
    assert.equal(config(snap2, 2).underlay?.routerId, '10.0.0.3');
    const r = resolve(snap2, 3);
    assert.equal(r.config, undefined);
    assert.deepEqual(failureRows(r), [
      [
        'Underlay openperouter-system/underlay',
        'ValidationFailed',
        'Underlay openperouter-system/underlay spec.routerIDCIDR: node index 3 needs address #4 of router-ID pool 10.0.0.0/30 (router ID), but the pool only has 4 addresses (#0..#3): use a larger pool',
      ],
    ]);
  });

  it('tunnel-endpoint pool too small: the Underlay fails and there is no configuration', () => {
    const r = resolve(snapshot(underlay({ tunnel: ['100.65.0.0/31'] }), l3vni('red', 100)), 2);
    assert.equal(r.config, undefined);
    assert.deepEqual(failureRows(r), [
      [
        'Underlay openperouter-system/underlay',
        'ValidationFailed',
        'Underlay openperouter-system/underlay spec.tunnelEndpoint.cidrs: node index 2 needs address #2 of tunnel endpoint pool 100.65.0.0/31 (tunnel endpoint), but the pool only has 2 addresses (#0..#1): use a larger pool',
      ],
    ]);
  });
});

describe('resolveNode: Underlay problems and RawFRRConfig', () => {
  it('two Underlays: no configuration, every failure reported', () => {
    const r = resolve(snapshot(underlay(), underlay({ name: 'second' }), l3vni('red', 100)));
    assert.equal(r.config, undefined);
    assert.deepEqual(
      r.failures.map((f) => objectKey(f.object)),
      [
        'Underlay openperouter-system/second',
        'Underlay openperouter-system/underlay',
        'L3VNI openperouter-system/red',
      ],
    );
  });

  it('no Underlay: a raw-only configuration, VNIs fail with DependencyFailed', () => {
    const r = resolve(snapshot(l3vni('red', 100), raw('only', undefined, 'log syslog informational')));
    assert.deepEqual(r.config, {
      node: {
        name: 'worker-1',
        index: 1,
        labels: {},
        hostname: 'worker-1',
        underlayMtu: 1500,
        logLevel: 'informational',
      },
      l3vnis: [],
      l2vnis: [],
      rawFrr: ['log syslog informational'],
    });
    assert.deepEqual(failureRows(r), [
      [
        'L3VNI openperouter-system/red',
        'DependencyFailed',
        'no Underlay selects this node: L3VNI red needs one with a tunnelEndpoint',
      ],
    ]);
  });

  it('RawFRRConfig snippets in ascending priority, ties by namespace/name; foreign namespace rejected', () => {
    const snap = snapshot(
      underlay(),
      raw('b', 10, 'b10'),
      raw('a', 10, 'a10'),
      raw('c', undefined, 'c0'),
      raw('d', 5, 'd5'),
      raw('e', 1, 'e1', 'default'),
    );
    const r = resolve(snap, 1, { operatorNamespace: NS });
    assert.deepEqual(r.config?.rawFrr, ['c0', 'd5', 'a10', 'b10']);
    assert.deepEqual(failureRows(r), [
      [
        'RawFRRConfig default/e',
        'ValidationFailed',
        'RawFRRConfig must be created in the operator namespace "openperouter-system", got "default"',
      ],
    ]);
  });

  it('objects whose selector does not match the node are ignored silently', () => {
    const other = l3vni('elsewhere', 100, '  nodeSelector: {matchLabels: {rack: rack-2}}');
    const r = resolveNode(snapshot(underlay(), other), facts(1, { labels: { rack: 'rack-1' } }));
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.config?.l3vnis, []);
    assert.deepEqual(r.config?.node.labels, { rack: 'rack-1' });
  });
});
