// Cross-object rules, per node: which of the objects selecting a node may be applied there together.
// One module serves the webhook (admission: every node the object selects), the controller and static
// mode (reconcile: this node). Objects are considered in namespace/name order and the first one wins,
// so the outcome never depends on list order. Invalid objects are reported and skipped; the rest apply.
import { CidrOverlapIndex, cidrsOverlap, isCidr, parseCidr } from '../ipam/ip.js';
import { selectorMatches } from './label-selector.js';
import type {
  ApiSnapshot,
  L2VNI,
  L3Passthrough,
  L3VNI,
  RawFRRConfig,
  RoutingObject,
  Underlay,
} from './types.js';
import { emptySnapshot } from './types.js';

export type FailureReason = 'ValidationFailed' | 'DependencyFailed';

export interface ObjectFailure {
  object: RoutingObject;
  reason: FailureReason;
  message: string;
}

export interface NodeSelection {
  /** Objects that may be applied on the node together. */
  accepted: ApiSnapshot;
  failures: ObjectFailure[];
}

export interface NodeRuleOptions {
  /** RawFRRConfig objects are honoured only in this namespace (upstream: the operator namespace). */
  operatorNamespace?: string;
}

// Plain code-unit order (as Go compares strings), never localeCompare: the winner of a duplicate must
// not depend on the process locale (da_DK sorts "aa" after "z") nor on ICU's case folding ("B" < "a").
const byNamespaceName = <T extends RoutingObject>(a: T, b: T) => {
  const x = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const y = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
};

const sorted = <T extends RoutingObject>(xs: T[]) => [...xs].sort(byNamespaceName);

/** The objects whose nodeSelector matches the node's labels. */
export function selectForNode(snapshot: ApiSnapshot, labels: Record<string, string>): ApiSnapshot {
  const pick = <T extends RoutingObject>(xs: T[]) =>
    xs.filter((o) => selectorMatches(o.spec.nodeSelector as Parameters<typeof selectorMatches>[0], labels));
  return {
    underlays: pick(snapshot.underlays),
    l3vnis: pick(snapshot.l3vnis),
    l2vnis: pick(snapshot.l2vnis),
    l3passthroughs: pick(snapshot.l3passthroughs),
    l3vpns: pick(snapshot.l3vpns),
    rawFRRConfigs: pick(snapshot.rawFRRConfigs),
  };
}

interface Pool {
  cidr: string;
  label: string;
}

function hostSessionPools(owner: string, local: { ipv4?: string; ipv6?: string } | undefined): Pool[] {
  if (!local) return [];
  return [local.ipv4, local.ipv6]
    .filter((c): c is string => c !== undefined && isCidr(c))
    .map((cidr) => ({ cidr, label: owner }));
}

function overlapping(a: Pool, b: Pool): boolean {
  const x = parseCidr(a.cidr);
  const y = parseCidr(b.cidr);
  return x.family === y.family && cidrsOverlap(x, y);
}

/**
 * Applies the per-node rules to the objects that select a node (use selectForNode first).
 * Rules: one Underlay; one L3Passthrough; one L3VNI per VRF; VNIs unique across L3VNIs and L2VNIs;
 * host-session pools disjoint; routing-domain references resolve; VRF subnets disjoint; VNIs need a
 * tunnel endpoint of the family they use; RawFRRConfig only in the operator namespace.
 */
export function applyNodeRules(selected: ApiSnapshot, opts: NodeRuleOptions = {}): NodeSelection {
  const failures: ObjectFailure[] = [];
  const fail = (object: RoutingObject, message: string, reason: FailureReason = 'ValidationFailed') =>
    failures.push({ object, reason, message });
  const accepted = emptySnapshot();

  // Underlay: at most one. Two or more: every one fails and nothing from them is applied.
  const underlays = sorted(selected.underlays);
  if (underlays.length > 1) {
    for (const u of underlays) fail(u, "can't have more than one underlay per node");
  } else {
    accepted.underlays = underlays;
  }
  const underlay: Underlay | undefined = accepted.underlays[0];

  const passthroughs = sorted(selected.l3passthroughs);
  if (passthroughs.length > 1) {
    for (const p of passthroughs) fail(p, "can't have more than one l3passthrough per node");
  }
  let passthrough: L3Passthrough | undefined = passthroughs.length === 1 ? passthroughs[0] : undefined;
  // Without exactly one Underlay the passthrough has no BGP instance to live in: say so.
  if (passthrough && !underlay) {
    fail(
      passthrough,
      underlays.length > 1
        ? `${underlays.length} Underlays select this node (see their entries): L3Passthrough ${passthrough.metadata.name} needs exactly one`
        : `no Underlay selects this node: L3Passthrough ${passthrough.metadata.name} needs one`,
      'DependencyFailed',
    );
    passthrough = undefined;
  }

  // L3VPN is rejected per object (not supported yet); nothing reaches here. Keep the kind out.
  for (const v of sorted(selected.l3vpns)) fail(v, 'not supported yet: kind L3VPN');

  const tunnelFamilies = new Set(
    (underlay?.spec.tunnelEndpoint?.cidrs ?? []).filter(isCidr).map((c) => parseCidr(c).family),
  );
  const tunnelProblem = (o: L3VNI | L2VNI): string | undefined => {
    if (underlays.length > 1)
      return `${underlays.length} Underlays select this node (see their entries): ${o.kind} ${o.metadata.name} needs exactly one`;
    if (!underlay)
      return `no Underlay selects this node: ${o.kind} ${o.metadata.name} needs one with a tunnelEndpoint`;
    if (tunnelFamilies.size === 0) {
      return `underlay tunnel endpoint configuration is required when ${o.kind === 'L3VNI' ? 'L3VNIs' : 'L2VNIs'} are defined (Underlay ${underlay.metadata.name} has no spec.tunnelEndpoint)`;
    }
    const want = o.spec.underlayAddressFamily;
    if (want === 'IPv4' && !tunnelFamilies.has(4))
      return 'IPv4 address family requested but no IPv4 VTEP IP available';
    if (want === 'IPv6' && !tunnelFamilies.has(6))
      return 'IPv6 address family requested but no IPv6 VTEP IP available';
    return undefined;
  };

  // L3VNIs: tunnel endpoint, unique VNI, one per VRF.
  const vniOwner = new Map<number, string>();
  const vrfOwner = new Map<string, L3VNI>();
  const l3vnis: L3VNI[] = [];
  for (const v of sorted(selected.l3vnis)) {
    const tp = tunnelProblem(v);
    if (tp) {
      fail(v, tp, 'DependencyFailed');
      continue;
    }
    const dupVni = vniOwner.get(v.spec.vni);
    if (dupVni) {
      fail(v, `duplicate vni ${v.spec.vni}:${dupVni}`);
      continue;
    }
    const dupVrf = vrfOwner.get(v.spec.vrf);
    if (dupVrf) {
      fail(
        v,
        `more than one L3VNI detected in VRF ${JSON.stringify(v.spec.vrf)}: ${JSON.stringify(dupVrf.metadata.name)} already exists`,
      );
      continue;
    }
    vniOwner.set(v.spec.vni, `L3VNI/${v.metadata.name}`);
    vrfOwner.set(v.spec.vrf, v);
    l3vnis.push(v);
  }

  // Host-session pools of L3VNIs and the passthrough must be pairwise disjoint (per family). The
  // object later in namespace/name order is the one that fails (upstream aborts the whole node).
  const claimed = new CidrOverlapIndex<Pool>();
  const claim = (o: L3VNI | L3Passthrough, label: string): boolean => {
    const pools = hostSessionPools(label, o.spec.hostSession?.localCIDR);
    for (const p of pools) {
      const clash = claimed.firstOverlap(parseCidr(p.cidr));
      if (clash) {
        fail(o, `overlapping cidrs ${p.cidr} - ${clash.cidr} for vnis ${label} - ${clash.label}`);
        return false;
      }
    }
    for (const p of pools) claimed.add(parseCidr(p.cidr), p);
    return true;
  };
  const sessionOk: L3VNI[] = [];
  const candidates: (L3VNI | L3Passthrough)[] = [...l3vnis, ...(passthrough ? [passthrough] : [])].sort(
    byNamespaceName,
  );
  for (const o of candidates) {
    const ok = claim(o, o.kind === 'L3VNI' ? `l3vni ${o.metadata.name}` : `l3passthrough ${o.metadata.name}`);
    if (o.kind === 'L3VNI' && ok) sessionOk.push(o);
    if (o.kind === 'L3Passthrough' && !ok) passthrough = undefined;
  }

  // L2VNIs: tunnel endpoint, unique VNI (shared number space), resolvable routing domain.
  const l2vnis: L2VNI[] = [];
  const l3ByName = new Map<string, L3VNI[]>();
  for (const v of sessionOk) l3ByName.set(v.metadata.name, [...(l3ByName.get(v.metadata.name) ?? []), v]);
  const l2Domain = new Map<L2VNI, L3VNI>();
  for (const v of sorted(selected.l2vnis)) {
    const tp = tunnelProblem(v);
    if (tp) {
      fail(v, tp, 'DependencyFailed');
      continue;
    }
    const dup = vniOwner.get(v.spec.vni);
    if (dup) {
      fail(v, `duplicate vni ${v.spec.vni}:${dup}`);
      continue;
    }
    const ref = v.spec.routingDomain?.l3vni?.name;
    if (ref !== undefined) {
      const found = l3ByName.get(ref) ?? [];
      const same = found.filter((l) => l.metadata.namespace === v.metadata.namespace);
      const target = same.length === 1 ? same[0] : found.length === 1 ? found[0] : undefined;
      if (!target) {
        fail(
          v,
          found.length > 1
            ? `referenced L3VNI ${JSON.stringify(ref)} is ambiguous: it exists in namespaces ${found.map((l) => l.metadata.namespace).join(', ')}`
            : `referenced L3VNI ${JSON.stringify(ref)} not found`,
          'DependencyFailed',
        );
        continue;
      }
      l2Domain.set(v, target);
    }
    vniOwner.set(v.spec.vni, `L2VNI/${v.metadata.name}`);
    l2vnis.push(v);
  }

  // VRF subnets: the VRF owner's host-session pool and the gateway prefixes of its L2VNIs must be
  // disjoint per family. On overlap the owner and every L2VNI in the VRF fail (upstream's rule).
  const failedVrfs = new Set<L3VNI>();
  for (const owner of sessionOk) {
    const members = l2vnis.filter((l) => l2Domain.get(l) === owner);
    const nets: Pool[] = [
      ...hostSessionPools(`L3VNI ${owner.metadata.name}`, owner.spec.hostSession?.localCIDR),
      ...members.flatMap((m) =>
        (m.spec.gatewayIPs ?? []).map((g) => ({
          cidr: parseCidr(g).text,
          label: `L2VNI ${m.metadata.name}`,
        })),
      ),
    ];
    let message: string | undefined;
    for (let i = 0; i < nets.length && !message; i++) {
      for (let j = i + 1; j < nets.length && !message; j++) {
        const a = nets[i]!;
        const b = nets[j]!;
        if (overlapping(a, b)) {
          message = `subnet overlap in VRF ${JSON.stringify(owner.spec.vrf)}: IPNet ${a.cidr} (${a.label}) overlaps with IPNet ${b.cidr} (${b.label})`;
        }
      }
    }
    if (message) {
      failedVrfs.add(owner);
      fail(owner, message);
      for (const m of members) fail(m, message);
    }
  }
  accepted.l3vnis = sessionOk.filter((v) => !failedVrfs.has(v));
  accepted.l2vnis = l2vnis.filter((l) => {
    const d = l2Domain.get(l);
    return d === undefined || !failedVrfs.has(d);
  });
  accepted.l3passthroughs = passthrough ? [passthrough] : [];

  const raws: RawFRRConfig[] = [];
  for (const r of sorted(selected.rawFRRConfigs)) {
    if (opts.operatorNamespace !== undefined && r.metadata.namespace !== opts.operatorNamespace) {
      fail(
        r,
        `RawFRRConfig must be created in the operator namespace ${JSON.stringify(opts.operatorNamespace)}, got ${JSON.stringify(r.metadata.namespace ?? '')}`,
      );
      continue;
    }
    raws.push(r);
  }
  accepted.rawFRRConfigs = raws;
  return { accepted, failures };
}

/** The L3VNI an accepted L2VNI joins (same lookup as applyNodeRules). */
export function routingDomainOf(l2: L2VNI, l3vnis: L3VNI[]): L3VNI | undefined {
  const ref = l2.spec.routingDomain?.l3vni?.name;
  if (ref === undefined) return undefined;
  const found = l3vnis.filter((l) => l.metadata.name === ref);
  return (
    found.find((l) => l.metadata.namespace === l2.metadata.namespace) ??
    (found.length === 1 ? found[0] : undefined)
  );
}
