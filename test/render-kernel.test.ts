import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KernelPlan, LinkSpec } from '../src/kernel/model.js';
import { KernelRenderError, overlayMtu, ROUTER_SYSCTLS, renderKernel } from '../src/render/kernel.js';
import type {
  HostSessionConfig,
  L2VNIConfig,
  L3VNIConfig,
  NodeConfig,
  PassthroughConfig,
  UnderlayConfig,
} from '../src/render/model.js';

const SYSCTLS = {
  'net.ipv4.conf.all.forwarding': '1',
  'net.ipv6.conf.all.forwarding': '1',
  'net.ipv4.conf.all.arp_accept': '1',
  'net.ipv4.conf.default.arp_accept': '1',
  'net.ipv6.conf.all.accept_untracked_na': '1',
  'net.ipv6.conf.default.accept_untracked_na': '1',
  'net.vrf.strict_mode': '1',
  'net.ipv6.conf.default.addr_gen_mode': '1',
};

const VTEP4 = '100.65.0.1';
const VTEP6 = 'fd00:100::1';

function config(parts: Partial<Omit<NodeConfig, 'node'>> & { underlayMtu?: number } = {}): NodeConfig {
  const { underlayMtu = 1500, ...rest } = parts;
  return {
    node: {
      name: 'node-1',
      index: 1,
      labels: {},
      hostname: 'node-1',
      underlayMtu,
      logLevel: 'informational',
    },
    l3vnis: [],
    l2vnis: [],
    rawFrr: [],
    ...rest,
  };
}

/** `null`: an underlay without tunnel endpoint. */
function underlay(
  tunnelEndpoint: UnderlayConfig['tunnelEndpoint'] | null = { ipv4: VTEP4, ipv6: VTEP6 },
): UnderlayConfig {
  return {
    source: { kind: 'Underlay', namespace: 'openperouter-system', name: 'underlay' },
    asn: 64514,
    routerId: '10.0.0.2',
    interfaces: ['toswitch'],
    ...(tunnelEndpoint === null || tunnelEndpoint === undefined ? {} : { tunnelEndpoint }),
    neighbors: [],
  };
}

const SESSION_V4: HostSessionConfig['ipv4'] = { router: '192.169.10.1/24', host: '192.169.10.3/24' };
const SESSION_V6: HostSessionConfig['ipv6'] = { router: '2001:db8:10::1/64', host: '2001:db8:10::3/64' };

function session(families: { ipv4?: boolean; ipv6?: boolean }): HostSessionConfig {
  return {
    asn: 64514,
    remoteAs: 64515,
    ibgp: false,
    ...(families.ipv4 === true ? { ipv4: SESSION_V4 } : {}),
    ...(families.ipv6 === true ? { ipv6: SESSION_V6 } : {}),
  };
}

function l3vni(vrf: string, vni: number, table: number, hostSession?: HostSessionConfig): L3VNIConfig {
  return {
    source: { kind: 'L3VNI', namespace: 'openperouter-system', name: vrf },
    vrf,
    vni,
    vxlanPort: 4789,
    vtep: VTEP4,
    table,
    ...(hostSession === undefined ? {} : { hostSession }),
    importRTs: [],
    exportRTs: [],
    gatewayNetworks: [],
  };
}

function l2vni(vni: number, extra: Partial<L2VNIConfig> = {}): L2VNIConfig {
  return {
    source: { kind: 'L2VNI', namespace: 'openperouter-system', name: `l2-${vni}` },
    vni,
    vxlanPort: 4789,
    vtep: VTEP4,
    gatewayIPs: [],
    ...extra,
  };
}

const PASSTHROUGH: PassthroughConfig = {
  source: { kind: 'L3Passthrough', namespace: 'openperouter-system', name: 'passthrough' },
  hostSession: {
    asn: 64514,
    remoteAs: 64515,
    ibgp: false,
    ipv4: { router: '192.168.20.1/24', host: '192.168.20.3/24' },
    ipv6: { router: '2001:db8:20::1/64', host: '2001:db8:20::3/64' },
  },
};

/** The links every L3VNI puts in the router namespace, before its veth. */
function l3Core(vrf: string, vni: number, table: number, mtu = 1450, vtep = VTEP4): LinkSpec[] {
  return [
    { type: 'vrf', name: vrf, addresses: [], table },
    { type: 'bridge', name: `br-pe-${vni}`, master: vrf, addresses: [], noIpv6LinkLocal: true },
    vxlan(vni, mtu, vtep),
  ];
}

function vxlan(vni: number, mtu = 1450, vtep = VTEP4): LinkSpec {
  return {
    type: 'vxlan',
    name: `vni${vni}`,
    master: `br-pe-${vni}`,
    mtu,
    addresses: [],
    noIpv6LinkLocal: true,
    vni,
    local: vtep,
    dstport: 4789,
    learning: false,
    neighSuppress: true,
  };
}

/** Every configuration the tests render; the generic invariants run on each. */
const FIXTURES: Record<string, NodeConfig> = {
  empty: config(),
  underlayOnly: config({ underlay: underlay() }),
  l3NoSession: config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1)] }),
  l3SessionV4: config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1, session({ ipv4: true }))] }),
  l3SessionV6: config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1, session({ ipv6: true }))] }),
  l3SessionDual: config({
    underlay: underlay(),
    l3vnis: [l3vni('red', 100, 1, session({ ipv4: true, ipv6: true }))],
  }),
  l2InVrfDualGateway: config({
    underlay: underlay(),
    l3vnis: [l3vni('red', 100, 1)],
    l2vnis: [
      l2vni(110, {
        vrf: 'red',
        gatewayIPs: ['192.170.1.1/24', '2001:db8:170::1/64'],
        gatewayMac: '00:f3:00:00:00:6e',
      }),
    ],
  }),
  l2DisconnectedManaged: config({
    underlay: underlay(),
    l2vnis: [l2vni(210, { hostBridge: { name: 'br-hs-210', managed: true } })],
  }),
  l2External: config({
    underlay: underlay(),
    l2vnis: [l2vni(220, { hostBridge: { name: 'br-user', managed: false } })],
  }),
  passthrough: config({ underlay: underlay(), passthrough: PASSTHROUGH }),
  clamped: config({
    underlayMtu: 1300,
    underlay: underlay(),
    l3vnis: [l3vni('red', 100, 1, session({ ipv4: true }))],
    l2vnis: [l2vni(210, { hostBridge: { name: 'br-hs-210', managed: true } })],
    passthrough: PASSTHROUGH,
  }),
  everything: config({
    underlayMtu: 9000,
    underlay: underlay(),
    l3vnis: [
      l3vni('blue', 200, 2, session({ ipv6: true })),
      { ...l3vni('red', 100, 1, session({ ipv4: true, ipv6: true })), vtep: VTEP6 },
    ],
    l2vnis: [
      l2vni(110, { vrf: 'red', gatewayIPs: ['192.170.1.1/24'], gatewayMac: '00:f3:00:00:00:6e' }),
      l2vni(120, { vrf: 'blue', hostBridge: { name: 'br-user', managed: false } }),
      l2vni(130, { vrf: 'blue', hostBridge: { name: 'br-user', managed: false } }),
      l2vni(210, { hostBridge: { name: 'br-hs-210', managed: true } }),
      l2vni(16777215, { vtep: VTEP6 }),
    ],
    passthrough: PASSTHROUGH,
  }),
};

function fixture(name: string): NodeConfig {
  const cfg = FIXTURES[name];
  assert.ok(cfg !== undefined, `no fixture ${name}`);
  return cfg;
}

function names(links: readonly LinkSpec[]): string[] {
  return links.map((link) => link.name);
}

/** Asserts renderKernel throws a KernelRenderError whose message contains every fragment. */
function assertRenderError(cfg: NodeConfig, ...fragments: string[]): void {
  assert.throws(
    () => renderKernel(cfg),
    (err: unknown) => {
      assert.ok(err instanceof KernelRenderError, `expected KernelRenderError, got ${String(err)}`);
      for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" lacks "${f}"`);
      return true;
    },
  );
}

describe('renderKernel: sysctls and underlay', () => {
  it('renders only the namespace and its sysctls without an underlay', () => {
    assert.deepEqual(renderKernel(fixture('empty')), {
      routerNamespace: 'perouter',
      routerSysctls: SYSCTLS,
      underlayInterfaces: [],
      loopbackAddresses: [],
      routerLinks: [],
      hostLinks: [],
      externalBridgePorts: [],
    } satisfies KernelPlan);
  });

  it('moves the underlay NICs and puts a dual-stack tunnel endpoint on lo', () => {
    assert.deepEqual(renderKernel(fixture('underlayOnly')), {
      routerNamespace: 'perouter',
      routerSysctls: SYSCTLS,
      underlayInterfaces: ['toswitch'],
      loopbackAddresses: ['100.65.0.1/32', 'fd00:100::1/128'],
      routerLinks: [],
      hostLinks: [],
      externalBridgePorts: [],
    } satisfies KernelPlan);
  });

  it('puts single-family tunnel endpoints on lo, and none when there is no endpoint', () => {
    assert.deepEqual(renderKernel(config({ underlay: underlay({ ipv6: VTEP6 }) })).loopbackAddresses, [
      'fd00:100::1/128',
    ]);
    assert.deepEqual(renderKernel(config({ underlay: underlay({ ipv4: VTEP4 }) })).loopbackAddresses, [
      '100.65.0.1/32',
    ]);
    assert.deepEqual(renderKernel(config({ underlay: underlay(null) })).loopbackAddresses, []);
  });

  it('exports the sysctls it renders, and the plan gets its own copy', () => {
    assert.deepEqual({ ...ROUTER_SYSCTLS }, SYSCTLS);
    const plan = renderKernel(fixture('empty'));
    plan.routerSysctls['net.vrf.strict_mode'] = '0';
    assert.equal(ROUTER_SYSCTLS['net.vrf.strict_mode'], '1');
  });
});

describe('renderKernel: L3VNI', () => {
  it('creates VRF, bridge and VXLAN without a host session', () => {
    const plan = renderKernel(fixture('l3NoSession'));
    assert.deepEqual(plan.routerLinks, l3Core('red', 100, 1));
    assert.deepEqual(plan.hostLinks, []);
    assert.deepEqual(plan.externalBridgePorts, []);
  });

  it('adds an IPv4 host-session veth', () => {
    const plan = renderKernel(fixture('l3SessionV4'));
    assert.deepEqual(plan.routerLinks, [
      ...l3Core('red', 100, 1),
      {
        type: 'veth',
        name: 'pe-e-100',
        master: 'red',
        mtu: 1450,
        addresses: ['192.169.10.1/24'],
        // The routed end of a host session keeps its IPv6 link-local address.
        noIpv6LinkLocal: false,
        peer: { name: 'host-e-100', namespace: 'host' },
      },
    ]);
    assert.deepEqual(plan.hostLinks, [
      {
        type: 'veth',
        name: 'host-e-100',
        mtu: 1450,
        addresses: ['192.169.10.3/24'],
        peer: { name: 'pe-e-100', namespace: 'router' },
      },
    ]);
  });

  it('adds an IPv6 host-session veth', () => {
    const plan = renderKernel(fixture('l3SessionV6'));
    assert.deepEqual(plan.routerLinks.at(-1), {
      type: 'veth',
      name: 'pe-e-100',
      master: 'red',
      mtu: 1450,
      addresses: ['2001:db8:10::1/64'],
      noIpv6LinkLocal: false,
      peer: { name: 'host-e-100', namespace: 'host' },
    });
    assert.deepEqual(plan.hostLinks, [
      {
        type: 'veth',
        name: 'host-e-100',
        mtu: 1450,
        addresses: ['2001:db8:10::3/64'],
        peer: { name: 'pe-e-100', namespace: 'router' },
      },
    ]);
  });

  it('puts IPv4 before IPv6 on a dual-stack host session', () => {
    const plan = renderKernel(fixture('l3SessionDual'));
    assert.deepEqual(names(plan.routerLinks), ['red', 'br-pe-100', 'vni100', 'pe-e-100']);
    assert.deepEqual(plan.routerLinks.at(-1)?.addresses, ['192.169.10.1/24', '2001:db8:10::1/64']);
    assert.deepEqual(plan.hostLinks[0]?.addresses, ['192.169.10.3/24', '2001:db8:10::3/64']);
  });

  it('uses the VNI own VTEP as VXLAN source, IPv6 included', () => {
    const plan = renderKernel(fixture('everything'));
    const vni100 = plan.routerLinks.find((link) => link.name === 'vni100');
    assert.ok(vni100?.type === 'vxlan');
    assert.equal(vni100.local, VTEP6);
    const vni200 = plan.routerLinks.find((link) => link.name === 'vni200');
    assert.ok(vni200?.type === 'vxlan');
    assert.equal(vni200.local, VTEP4);
  });
});

describe('renderKernel: L2VNI', () => {
  it('puts a dual-stack anycast gateway on a bridge in the VRF, keeping its link-local', () => {
    const plan = renderKernel(fixture('l2InVrfDualGateway'));
    assert.deepEqual(plan.routerLinks, [
      ...l3Core('red', 100, 1),
      {
        type: 'bridge',
        name: 'br-pe-110',
        master: 'red',
        addresses: ['192.170.1.1/24', '2001:db8:170::1/64'],
        mac: '00:f3:00:00:00:6e',
        noIpv6LinkLocal: false,
      },
      vxlan(110),
      {
        type: 'veth',
        name: 'pe-e-110',
        master: 'br-pe-110',
        mtu: 1450,
        addresses: [],
        peer: { name: 'host-e-110', namespace: 'host' },
      },
    ]);
    assert.deepEqual(plan.hostLinks, [
      {
        type: 'veth',
        name: 'host-e-110',
        mtu: 1450,
        addresses: [],
        peer: { name: 'pe-e-110', namespace: 'router' },
      },
    ]);
    assert.deepEqual(plan.externalBridgePorts, []);
  });

  it('turns the link-local off on a bridge whose gateway is IPv4 only', () => {
    const plan = renderKernel(fixture('everything'));
    assert.deepEqual(
      plan.routerLinks.find((link) => link.name === 'br-pe-110'),
      {
        type: 'bridge',
        name: 'br-pe-110',
        master: 'red',
        addresses: ['192.170.1.1/24'],
        mac: '00:f3:00:00:00:6e',
        noIpv6LinkLocal: true,
      },
    );
  });

  it('renders a disconnected L2VNI plugged into a managed host bridge', () => {
    const plan = renderKernel(fixture('l2DisconnectedManaged'));
    assert.deepEqual(plan.routerLinks, [
      { type: 'bridge', name: 'br-pe-210', addresses: [], noIpv6LinkLocal: true },
      vxlan(210),
      {
        type: 'veth',
        name: 'pe-e-210',
        master: 'br-pe-210',
        mtu: 1450,
        addresses: [],
        peer: { name: 'host-e-210', namespace: 'host' },
      },
    ]);
    assert.deepEqual(plan.hostLinks, [
      { type: 'bridge', name: 'br-hs-210', mtu: 1450, addresses: [] },
      {
        type: 'veth',
        name: 'host-e-210',
        master: 'br-hs-210',
        mtu: 1450,
        addresses: [],
        peer: { name: 'pe-e-210', namespace: 'router' },
      },
    ]);
    assert.deepEqual(plan.externalBridgePorts, []);
  });

  it('plugs into an external bridge only through externalBridgePorts', () => {
    const plan = renderKernel(fixture('l2External'));
    assert.deepEqual(plan.hostLinks, [
      {
        type: 'veth',
        name: 'host-e-220',
        mtu: 1450,
        addresses: [],
        peer: { name: 'pe-e-220', namespace: 'router' },
      },
    ]);
    assert.deepEqual(plan.externalBridgePorts, [{ bridge: 'br-user', port: 'host-e-220' }]);
  });

  it('lists one port per L2VNI sharing an external bridge, in VNI order', () => {
    const plan = renderKernel(fixture('everything'));
    assert.deepEqual(plan.externalBridgePorts, [
      { bridge: 'br-user', port: 'host-e-120' },
      { bridge: 'br-user', port: 'host-e-130' },
    ]);
  });

  it('leaves the host end unplugged without a host bridge', () => {
    const plan = renderKernel(
      config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1)], l2vnis: [l2vni(110, { vrf: 'red' })] }),
    );
    const hostEnd = plan.hostLinks.find((link) => link.name === 'host-e-110');
    assert.ok(hostEnd !== undefined);
    assert.equal(hostEnd.master, undefined);
    assert.ok(!('master' in hostEnd), 'absent master must be omitted, not undefined');
    assert.deepEqual(plan.externalBridgePorts, []);
  });

  it('does not set a MAC on a bridge without a gateway', () => {
    const plan = renderKernel(
      config({ underlay: underlay(), l2vnis: [l2vni(210, { gatewayMac: '00:f3:00:00:00:d2' })] }),
    );
    assert.deepEqual(plan.routerLinks[0], {
      type: 'bridge',
      name: 'br-pe-210',
      addresses: [],
      noIpv6LinkLocal: true,
    });
  });
});

describe('renderKernel: passthrough', () => {
  it('creates pt-ns in the default VRF and pt-host with the full underlay MTU', () => {
    const plan = renderKernel(fixture('passthrough'));
    assert.deepEqual(plan.routerLinks, [
      {
        type: 'veth',
        name: 'pt-ns',
        mtu: 1500,
        addresses: ['192.168.20.1/24', '2001:db8:20::1/64'],
        noIpv6LinkLocal: false,
        peer: { name: 'pt-host', namespace: 'host' },
      },
    ]);
    assert.deepEqual(plan.hostLinks, [
      {
        type: 'veth',
        name: 'pt-host',
        mtu: 1500,
        addresses: ['192.168.20.3/24', '2001:db8:20::3/64'],
        peer: { name: 'pt-ns', namespace: 'router' },
      },
    ]);
  });
});

describe('renderKernel: MTU', () => {
  it('computes underlay MTU - 50, never below 1280', () => {
    assert.equal(overlayMtu(1500), 1450);
    assert.equal(overlayMtu(9000), 8950);
    assert.equal(overlayMtu(1330), 1280);
    assert.equal(overlayMtu(1300), 1280);
    assert.equal(overlayMtu(1000), 1280);
  });

  it('clamps every overlay link to 1280 with a 1300 underlay, while passthrough keeps 1300', () => {
    const plan = renderKernel(fixture('clamped'));
    const mtus = (links: LinkSpec[]) => links.map((link) => [link.name, link.mtu]);
    assert.deepEqual(mtus(plan.routerLinks), [
      ['red', undefined],
      ['br-pe-100', undefined],
      ['vni100', 1280],
      ['pe-e-100', 1280],
      ['br-pe-210', undefined],
      ['vni210', 1280],
      ['pe-e-210', 1280],
      ['pt-ns', 1300],
    ]);
    assert.deepEqual(mtus(plan.hostLinks), [
      ['host-e-100', 1280],
      ['br-hs-210', 1280],
      ['host-e-210', 1280],
      ['pt-host', 1300],
    ]);
  });

  it('uses a jumbo underlay', () => {
    const plan = renderKernel(fixture('everything'));
    for (const link of [...plan.routerLinks, ...plan.hostLinks]) {
      if (link.type === 'vrf' || (link.type === 'bridge' && link.name.startsWith('br-pe-'))) continue;
      assert.equal(link.mtu, link.name.startsWith('pt-') ? 9000 : 8950, link.name);
    }
  });
});

describe('renderKernel: ordering and names', () => {
  it('emits L3VNIs in input order, then L2VNIs, then passthrough', () => {
    const plan = renderKernel(fixture('everything'));
    assert.deepEqual(names(plan.routerLinks), [
      'blue',
      'br-pe-200',
      'vni200',
      'pe-e-200',
      'red',
      'br-pe-100',
      'vni100',
      'pe-e-100',
      'br-pe-110',
      'vni110',
      'pe-e-110',
      'br-pe-120',
      'vni120',
      'pe-e-120',
      'br-pe-130',
      'vni130',
      'pe-e-130',
      'br-pe-210',
      'vni210',
      'pe-e-210',
      'br-pe-16777215',
      'vni16777215',
      'pe-e-16777215',
      'pt-ns',
    ]);
    assert.deepEqual(names(plan.hostLinks), [
      'host-e-200',
      'host-e-100',
      'host-e-110',
      'host-e-120',
      'host-e-130',
      'br-hs-210',
      'host-e-210',
      'host-e-16777215',
      'pt-host',
    ]);
  });

  for (const [name, cfg] of Object.entries(FIXTURES)) {
    it(`fixture ${name}: masters precede slaves, names are unique and valid, veth peers match`, () => {
      const plan = renderKernel(cfg);
      const lists = { router: plan.routerLinks, host: plan.hostLinks } as const;
      for (const [namespace, links] of Object.entries(lists)) {
        const position = new Map(links.map((link, i) => [link.name, i]));
        assert.equal(position.size, links.length, `${namespace}: duplicate names in ${names(links)}`);
        links.forEach((link, i) => {
          assert.ok(link.name.length <= 15, `${namespace}: ${link.name} longer than IFNAMSIZ`);
          if (link.master === undefined) return;
          const masterAt = position.get(link.master);
          assert.ok(
            masterAt !== undefined && masterAt < i,
            `${namespace}: ${link.master} not before ${link.name}`,
          );
          const master = links[masterAt];
          assert.ok(master?.type === 'vrf' || master?.type === 'bridge', `${link.master} cannot be a master`);
        });
        for (const link of links) {
          if (link.type !== 'veth') continue;
          const other = lists[link.peer.namespace];
          assert.notEqual(link.peer.namespace, namespace, `${link.name}: peer in its own namespace`);
          const peer = other.find((candidate) => candidate.name === link.peer.name);
          assert.ok(peer?.type === 'veth', `${link.name}: peer ${link.peer.name} missing`);
          assert.deepEqual(peer.peer, { name: link.name, namespace });
          assert.equal(peer.mtu, link.mtu, `${link.name}: both ends share the MTU`);
        }
      }
      for (const { port } of plan.externalBridgePorts) {
        const link = plan.hostLinks.find((candidate) => candidate.name === port);
        assert.ok(link?.type === 'veth' && link.master === undefined, `${port}: unplugged host veth`);
      }
    });
  }

  it('is deterministic and leaves its input untouched', () => {
    for (const [name, cfg] of Object.entries(FIXTURES)) {
      const before = structuredClone(cfg);
      const first = renderKernel(cfg);
      const second = renderKernel(structuredClone(cfg));
      assert.deepEqual(first, second, name);
      assert.equal(JSON.stringify(first), JSON.stringify(second), `${name}: same key order`);
      assert.deepEqual(cfg, before, `${name}: input mutated`);
    }
  });

  it('returns a plan that shares no arrays with its input', () => {
    const cfg = fixture('everything');
    const before = structuredClone(cfg);
    const plan = renderKernel(cfg);
    plan.underlayInterfaces.push('eth9');
    for (const link of [...plan.routerLinks, ...plan.hostLinks]) link.addresses.push('10.9.9.9/32');
    assert.deepEqual(cfg, before);
  });

  it('accepts a 15-character name and rejects a 16-character one', () => {
    const plan = renderKernel(fixture('everything'));
    assert.ok(plan.hostLinks.some((link) => link.name === 'host-e-16777215'));
    assert.equal('host-e-16777215'.length, 15);
    renderKernel(config({ underlay: underlay(), l3vnis: [l3vni('vrf-fifteen-chr', 100, 1)] }));
    assertRenderError(
      config({ underlay: underlay(), l3vnis: [l3vni('vrf-sixteen-chrs', 100, 1)] }),
      '"vrf-sixteen-chrs"',
      'at most 15',
    );
    assertRenderError(
      config({
        underlay: underlay(),
        l2vnis: [l2vni(210, { hostBridge: { name: 'br-hs-very-long1', managed: true } })],
      }),
      '"br-hs-very-long1"',
      'host namespace',
    );
  });

  it('rejects names the kernel refuses', () => {
    assertRenderError(config({ underlay: underlay(), l3vnis: [l3vni('', 100, 1)] }), 'empty');
    assertRenderError(config({ underlay: underlay(), l3vnis: [l3vni('a/b', 100, 1)] }), '"a/b"');
    assertRenderError(config({ underlay: underlay(), l3vnis: [l3vni('a b', 100, 1)] }), '"a b"');
  });
});

describe('renderKernel: resolver bugs', () => {
  it('rejects a VNI used by both an L3VNI and an L2VNI, naming the duplicate', () => {
    assertRenderError(
      config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1)], l2vnis: [l2vni(100)] }),
      'router namespace',
      '"br-pe-100" is used twice',
    );
  });

  it('rejects the same VRF twice', () => {
    assertRenderError(
      config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1), l3vni('red', 200, 2)] }),
      '"red" is used twice',
    );
  });

  it('rejects two VRFs on one routing table', () => {
    assertRenderError(
      config({ underlay: underlay(), l3vnis: [l3vni('blue', 200, 7), l3vni('red', 100, 7)] }),
      '"blue" and "red"',
      'table 7',
    );
  });

  it('rejects a link named like an underlay NIC', () => {
    assertRenderError(
      config({ underlay: { ...underlay(), interfaces: ['vni100'] }, l3vnis: [l3vni('red', 100, 1)] }),
      '"vni100" is used twice',
    );
  });

  it('rejects an L2VNI whose VRF no L3VNI creates', () => {
    assertRenderError(
      config({ underlay: underlay(), l3vnis: [l3vni('red', 100, 1)], l2vnis: [l2vni(110, { vrf: 'blue' })] }),
      'L2VNI openperouter-system/l2-110 (VNI 110)',
      'VRF "blue"',
    );
  });

  it('rejects a VTEP that is not a tunnel endpoint of the node', () => {
    assertRenderError(
      config({ underlay: underlay({ ipv4: VTEP4 }), l3vnis: [{ ...l3vni('red', 100, 1), vtep: VTEP6 }] }),
      'L3VNI openperouter-system/red (VNI 100)',
      'fd00:100::1',
      'the node has 100.65.0.1',
    );
    assertRenderError(config({ l2vnis: [l2vni(210)] }), 'the node has none');
  });

  it('rejects a gateway without MAC or without VRF', () => {
    assertRenderError(
      config({
        underlay: underlay(),
        l3vnis: [l3vni('red', 100, 1)],
        l2vnis: [l2vni(110, { vrf: 'red', gatewayIPs: ['192.170.1.1/24'] })],
      }),
      'no gateway MAC',
    );
    assertRenderError(
      config({
        underlay: underlay(),
        l2vnis: [l2vni(210, { gatewayIPs: ['192.170.1.1/24'], gatewayMac: '00:f3:00:00:00:d2' })],
      }),
      'no VRF',
    );
  });

  it('rejects an external bridge that is also a managed one', () => {
    assertRenderError(
      config({
        underlay: underlay(),
        l2vnis: [
          l2vni(210, { hostBridge: { name: 'br-hs-210', managed: true } }),
          l2vni(220, { hostBridge: { name: 'br-hs-210', managed: false } }),
        ],
      }),
      'external bridge "br-hs-210"',
    );
  });
});
