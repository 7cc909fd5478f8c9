import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatIssue } from '../src/api/issues.js';
import { API_VERSION } from '../src/api/kinds.js';
import { applyNodeRules, type NodeSelection, routingDomainOf } from '../src/api/node-rules.js';
import {
  type ApiSnapshot,
  type L2VNI,
  type L3Passthrough,
  type L3VNI,
  objectKey,
  type RoutingObject,
  type Underlay,
} from '../src/api/types.js';
import { validateObject } from '../src/api/validate-object.js';
import { cidrsOverlap, parseCidr } from '../src/ipam/ip.js';

const OPERATOR_NS = 'a';

// Small value pools so that clashes (VNI, VRF, names, overlapping prefixes) are frequent.
const namespace = fc.constantFrom('a', 'b', 'c');
const vni = fc.integer({ min: 1, max: 8 });
const V4_POOLS = ['192.169.0.0/16', '192.169.10.0/24', '192.169.10.128/25', '192.169.11.0/24', '10.1.0.0/24'];
const V6_POOLS = ['2001:db8::/32', '2001:db8:10::/64', '2001:db8:11::/64', 'fd10::/64'];
const GW4 = ['10.1.0.1/24', '10.1.0.129/25', '192.169.10.1/24', '10.2.0.1/24', '192.169.11.1/24'];
const GW6 = ['fd10::1/64', 'fd11::1/64', '2001:db8:11::1/64'];
const L3_NAMES = ['red', 'blue', 'green', 'x'];
const FAMILY = fc.option(fc.constantFrom<'IPv4' | 'IPv6'>('IPv4', 'IPv6'), { nil: undefined });

interface Meta {
  kind: string;
  name: string;
  namespace: string;
  spec: Record<string, unknown>;
}

const l3Spec = fc
  .record({
    namespace,
    name: fc.constantFrom(...L3_NAMES),
    vrf: fc.constantFrom('v1', 'v2', 'v3'),
    vni,
    ipv4: fc.option(fc.constantFrom(...V4_POOLS), { nil: undefined }),
    ipv6: fc.option(fc.constantFrom(...V6_POOLS), { nil: undefined }),
    family: FAMILY,
  })
  .map(
    (r): Meta => ({
      kind: 'L3VNI',
      name: r.name,
      namespace: r.namespace,
      spec: {
        vrf: r.vrf,
        vni: r.vni,
        ...(r.family ? { underlayAddressFamily: r.family } : {}),
        ...(r.ipv4 || r.ipv6
          ? {
              hostSession: {
                asn: 64514,
                hostASN: 64515,
                localCIDR: { ...(r.ipv4 ? { ipv4: r.ipv4 } : {}), ...(r.ipv6 ? { ipv6: r.ipv6 } : {}) },
              },
            }
          : {}),
      },
    }),
  );

const l2Spec = fc
  .record({
    namespace,
    name: fc.constantFrom('s1', 's2', 's3', 's4', 's5'),
    vni,
    ref: fc.option(fc.constantFrom(...L3_NAMES, 'missing'), { nil: undefined }),
    gw4: fc.option(fc.constantFrom(...GW4), { nil: undefined }),
    gw6: fc.option(fc.constantFrom(...GW6), { nil: undefined }),
    family: FAMILY,
  })
  .map((r): Meta => {
    // gatewayIPs need a routing domain (CEL), so only referencing L2VNIs carry them.
    const gws = r.ref ? [r.gw4, r.gw6].filter((g): g is string => g !== undefined) : [];
    return {
      kind: 'L2VNI',
      name: r.name,
      namespace: r.namespace,
      spec: {
        vni: r.vni,
        ...(r.family ? { underlayAddressFamily: r.family } : {}),
        ...(r.ref ? { routingDomain: { type: 'L3VNI', l3vni: { name: r.ref } } } : {}),
        ...(gws.length > 0 ? { gatewayIPs: gws } : {}),
      },
    };
  });

const passthroughSpec = fc
  .record({
    namespace,
    name: fc.constantFrom('pt1', 'pt2'),
    ipv4: fc.option(fc.constantFrom(...V4_POOLS), { nil: undefined }),
    ipv6: fc.constantFrom(...V6_POOLS),
  })
  .map(
    (r): Meta => ({
      kind: 'L3Passthrough',
      name: r.name,
      namespace: r.namespace,
      spec: {
        hostSession: {
          asn: 64514,
          hostASN: 64516,
          localCIDR: { ...(r.ipv4 ? { ipv4: r.ipv4 } : {}), ipv6: r.ipv6 },
        },
      },
    }),
  );

// Mostly dual-stack, so that VNIs usually get past the tunnel-endpoint check and meet the other rules.
const tunnel = fc.oneof(
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
  { weight: 1, arbitrary: fc.constant(['100.65.0.0/24']) },
  { weight: 1, arbitrary: fc.constant(['fd00:65::/64']) },
  { weight: 5, arbitrary: fc.constant(['100.65.0.0/24', 'fd00:65::/64']) },
);
const UNDERLAY: Meta = {
  kind: 'Underlay',
  name: 'underlay',
  namespace: 'a',
  spec: {
    asn: 64514,
    interfaces: [{ type: 'NetworkDevice', networkDevice: { interfaceName: 'toswitch' } }],
    neighbors: [{ asn: 64512, address: '192.168.11.2' }],
  },
};
const underlaySpec = fc.record({ name: fc.constantFrom('u1', 'u2'), tunnel }).map(
  (r): Meta => ({
    ...UNDERLAY,
    name: r.name,
    spec: { ...UNDERLAY.spec, ...(r.tunnel.length > 0 ? { tunnelEndpoint: { cidrs: r.tunnel } } : {}) },
  }),
);

const rawSpec = fc
  .record({ namespace, name: fc.constantFrom('r1', 'r2') })
  .map((r): Meta => ({ kind: 'RawFRRConfig', ...r, spec: { rawConfig: 'log syslog debugging' } }));

const unique = (m: Meta) => `${m.namespace}/${m.name}`;

/** Mostly exactly one Underlay (so VNIs get past the tunnel check), sometimes none or two. */
const scenario = fc.record({
  underlays: fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(underlaySpec, { minLength: 1, maxLength: 1, selector: unique }) },
    { weight: 1, arbitrary: fc.uniqueArray(underlaySpec, { minLength: 0, maxLength: 2, selector: unique }) },
  ),
  l3vnis: fc.uniqueArray(l3Spec, { maxLength: 7, selector: unique }),
  l2vnis: fc.uniqueArray(l2Spec, { maxLength: 7, selector: unique }),
  passthroughs: fc.oneof(
    { weight: 3, arbitrary: fc.uniqueArray(passthroughSpec, { maxLength: 1, selector: unique }) },
    { weight: 1, arbitrary: fc.uniqueArray(passthroughSpec, { maxLength: 2, selector: unique }) },
  ),
  raws: fc.uniqueArray(rawSpec, { maxLength: 2, selector: unique }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

// Objects are validated (and defaulted) once per distinct spec; the rules never mutate them.
const cache = new Map<string, RoutingObject>();
function build(m: Meta): RoutingObject {
  const key = JSON.stringify(m);
  let o = cache.get(key);
  if (!o) {
    const v = validateObject({
      apiVersion: API_VERSION,
      kind: m.kind,
      metadata: { name: m.name, namespace: m.namespace },
      spec: m.spec,
    });
    assert.deepEqual(v.issues.map(formatIssue), [], 'generated objects must be valid');
    assert.ok(v.object);
    o = v.object;
    cache.set(key, o);
  }
  return o;
}

function toApi(s: Scenario): ApiSnapshot {
  const all = <T extends RoutingObject>(ms: Meta[]) => ms.map((m) => build(m) as T);
  return {
    underlays: all(s.underlays),
    l3vnis: all(s.l3vnis),
    l2vnis: all(s.l2vnis),
    l3passthroughs: all(s.passthroughs),
    l3vpns: [],
    rawFRRConfigs: all(s.raws),
  };
}

function inputs(api: ApiSnapshot): RoutingObject[] {
  return [
    ...api.underlays,
    ...api.l3vnis,
    ...api.l2vnis,
    ...api.l3passthroughs,
    ...api.l3vpns,
    ...api.rawFRRConfigs,
  ];
}

/** Deterministic Fisher-Yates driven by a seed (shrinks with the seed). */
function shuffle<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function pools(local: { ipv4?: string; ipv6?: string } | undefined): string[] {
  return [local?.ipv4, local?.ipv6].filter((c): c is string => c !== undefined);
}

function overlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.family === y.family && cidrsOverlap(x, y);
}

function pairwiseDisjoint(cidrs: string[]): boolean {
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = i + 1; j < cidrs.length; j++) if (overlap(cidrs[i]!, cidrs[j]!)) return false;
  }
  return true;
}

const rules = (api: ApiSnapshot): NodeSelection => applyNodeRules(api, { operatorNamespace: OPERATOR_NS });
const RUNS = { numRuns: 300 };

describe('applyNodeRules properties (random L3VNIs / L2VNIs / passthroughs)', () => {
  it('every input object is either accepted or has exactly one failure', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const api = toApi(s);
        const r = rules(api);
        const accepted = new Set(inputs(r.accepted));
        const all = inputs(api);
        for (const o of accepted) assert.ok(all.includes(o), `accepted ${objectKey(o)} is not an input`);
        for (const f of r.failures) {
          assert.ok(all.includes(f.object), `failed ${objectKey(f.object)} is not an input`);
          assert.ok(f.reason === 'ValidationFailed' || f.reason === 'DependencyFailed');
          assert.ok(f.message.length > 0);
        }
        for (const o of all) {
          const failures = r.failures.filter((f) => f.object === o).length;
          assert.equal(failures + (accepted.has(o) ? 1 : 0), 1, `${objectKey(o)}: ${failures} failures`);
        }
      }),
      RUNS,
    );
  });

  it('accepted VNIs are unique across L3VNIs and L2VNIs; one L3VNI per VRF; one Underlay and passthrough', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = rules(toApi(s));
        const vnis = [...r.accepted.l3vnis, ...r.accepted.l2vnis].map((v) => v.spec.vni);
        assert.equal(new Set(vnis).size, vnis.length, `duplicate VNI in ${vnis.join(',')}`);
        const vrfs = r.accepted.l3vnis.map((v) => v.spec.vrf);
        assert.equal(new Set(vrfs).size, vrfs.length, `duplicate VRF in ${vrfs.join(',')}`);
        assert.ok(r.accepted.underlays.length <= 1);
        assert.ok(r.accepted.l3passthroughs.length <= 1);
        if (r.accepted.underlays.length === 0) {
          assert.deepEqual([...r.accepted.l3vnis, ...r.accepted.l2vnis], []);
        }
      }),
      RUNS,
    );
  });

  it('accepted host-session pools (L3VNIs + passthrough) are pairwise disjoint per family', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = rules(toApi(s));
        const all = [
          ...r.accepted.l3vnis.flatMap((v) => pools(v.spec.hostSession?.localCIDR)),
          ...r.accepted.l3passthroughs.flatMap((p: L3Passthrough) => pools(p.spec.hostSession.localCIDR)),
        ];
        assert.ok(pairwiseDisjoint(all), `overlapping pools among ${all.join(', ')}`);
      }),
      RUNS,
    );
  });

  it("every accepted L2VNI's reference resolves, unambiguously, to an accepted L3VNI", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = rules(toApi(s));
        for (const l2 of r.accepted.l2vnis) {
          const ref = l2.spec.routingDomain?.l3vni?.name;
          const target = routingDomainOf(l2, r.accepted.l3vnis);
          if (ref === undefined) {
            assert.equal(target, undefined);
            continue;
          }
          assert.ok(target, `${objectKey(l2)} -> ${ref} unresolved`);
          assert.ok(r.accepted.l3vnis.includes(target));
          assert.equal(target.metadata.name, ref);
          const sameName = r.accepted.l3vnis.filter((l) => l.metadata.name === ref);
          if (sameName.length > 1) assert.equal(target.metadata.namespace, l2.metadata.namespace);
        }
        // Conversely: an L2VNI failing only because its reference is missing names that reference.
        for (const f of r.failures) {
          if (f.object.kind === 'L2VNI' && f.message.startsWith('referenced L3VNI')) {
            assert.equal(f.reason, 'DependencyFailed');
            assert.ok(f.message.includes(JSON.stringify(f.object.spec.routingDomain?.l3vni?.name)));
          }
        }
      }),
      RUNS,
    );
  });

  it('inside each accepted VRF the owner pool and the gateway prefixes are disjoint per family', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = rules(toApi(s));
        for (const owner of r.accepted.l3vnis) {
          const members = r.accepted.l2vnis.filter(
            (l: L2VNI) => routingDomainOf(l, r.accepted.l3vnis) === owner,
          );
          const nets = [
            ...pools(owner.spec.hostSession?.localCIDR),
            ...members.flatMap((m) => m.spec.gatewayIPs ?? []),
          ];
          assert.ok(pairwiseDisjoint(nets), `VRF ${owner.spec.vrf}: ${nets.join(', ')}`);
        }
      }),
      RUNS,
    );
  });

  it('accepted VNIs have a tunnel endpoint of the family they ask for', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const r = rules(toApi(s));
        const cidrs = r.accepted.underlays[0]?.spec.tunnelEndpoint?.cidrs ?? [];
        const families = new Set(cidrs.map((c) => (parseCidr(c).family === 4 ? 'IPv4' : 'IPv6')));
        for (const v of [...r.accepted.l3vnis, ...r.accepted.l2vnis] as (L3VNI | L2VNI)[]) {
          assert.ok(families.size > 0, `${objectKey(v)} accepted without tunnel endpoint`);
          const want = v.spec.underlayAddressFamily;
          if (want !== undefined) assert.ok(families.has(want), `${objectKey(v)} wants ${want}`);
        }
      }),
      RUNS,
    );
  });

  it('reference resolution follows the model: own namespace, else a unique name, else failure', () => {
    // L3VNIs that are all valid together (distinct VNIs and VRFs, no host sessions), so only the
    // reference rule decides the fate of the L2VNIs.
    const refScenario = fc.record({
      l3: fc.uniqueArray(fc.record({ namespace, name: fc.constantFrom('red', 'blue') }), {
        maxLength: 6,
        selector: (m) => `${m.namespace}/${m.name}`,
      }),
      l2: fc.uniqueArray(
        fc.record({
          namespace,
          name: fc.constantFrom('s1', 's2', 's3'),
          ref: fc.constantFrom('red', 'blue'),
        }),
        { maxLength: 6, selector: (m) => `${m.namespace}/${m.name}` },
      ),
    });
    const underlay = build({
      ...UNDERLAY,
      spec: { ...UNDERLAY.spec, tunnelEndpoint: { cidrs: ['100.65.0.0/24'] } },
    });
    fc.assert(
      fc.property(refScenario, ({ l3, l2 }) => {
        const api: ApiSnapshot = {
          underlays: [underlay as Underlay],
          l3vnis: l3.map(
            (m, i) => build({ kind: 'L3VNI', ...m, spec: { vrf: `vrf${i}`, vni: 100 + i } }) as L3VNI,
          ),
          l2vnis: l2.map(
            (m, i) =>
              build({
                kind: 'L2VNI',
                name: m.name,
                namespace: m.namespace,
                spec: { vni: 200 + i, routingDomain: { type: 'L3VNI', l3vni: { name: m.ref } } },
              }) as L2VNI,
          ),
          l3passthroughs: [],
          l3vpns: [],
          rawFRRConfigs: [],
        };
        const r = rules(api);
        assert.equal(r.accepted.l3vnis.length, l3.length);
        for (const v of api.l2vnis) {
          const ref = v.spec.routingDomain?.l3vni?.name;
          const named = api.l3vnis.filter((l) => l.metadata.name === ref);
          const own = named.find((l) => l.metadata.namespace === v.metadata.namespace);
          const expected = own ?? (named.length === 1 ? named[0] : undefined);
          const failure = r.failures.find((f) => f.object === v);
          if (expected) {
            assert.equal(failure, undefined, `${objectKey(v)} should resolve`);
            assert.equal(routingDomainOf(v, r.accepted.l3vnis), expected);
          } else if (named.length === 0) {
            assert.deepEqual(
              [failure?.reason, failure?.message],
              ['DependencyFailed', `referenced L3VNI ${JSON.stringify(ref)} not found`],
            );
          } else {
            const namespaces = named.map((l) => l.metadata.namespace).sort();
            assert.deepEqual(
              [failure?.reason, failure?.message],
              [
                'DependencyFailed',
                `referenced L3VNI ${JSON.stringify(ref)} is ambiguous: it exists in namespaces ${namespaces.join(', ')}`,
              ],
            );
          }
        }
      }),
      RUNS,
    );
  });

  it('the result does not depend on input order', () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.nat(), { minLength: 5, maxLength: 5 }), (s, seeds) => {
        const api = toApi(s);
        const shuffled: ApiSnapshot = {
          underlays: shuffle(api.underlays, seeds[0]!),
          l3vnis: shuffle(api.l3vnis, seeds[1]!),
          l2vnis: shuffle(api.l2vnis, seeds[2]!),
          l3passthroughs: shuffle(api.l3passthroughs, seeds[3]!),
          l3vpns: [],
          rawFRRConfigs: shuffle(api.rawFRRConfigs, seeds[4]!),
        };
        const a = rules(api);
        const b = rules(shuffled);
        assert.deepEqual(inputs(b.accepted).map(objectKey), inputs(a.accepted).map(objectKey));
        const rows = (x: NodeSelection) => x.failures.map((f) => [objectKey(f.object), f.reason, f.message]);
        assert.deepEqual(rows(b), rows(a));
      }),
      RUNS,
    );
  });
});
