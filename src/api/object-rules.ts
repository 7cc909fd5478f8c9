// Rules that need only the object itself but that the schema cannot express: the per-object part of
// upstream's webhook checks (W4–W8, W16, W18, W22 parsing), node selector operators, and the fields of
// features this implementation does not support yet (rejected, never silently ignored).
import { cidrsOverlap, formatIp, isCidr, isIp, parseCidr, parseIp } from '../ipam/ip.js';
import { selectorProblems } from './label-selector.js';
import { routeTargetProblem } from './route-target.js';
import type { FieldProblem } from './schema-walk.js';
import type {
  L2VNISpec,
  L3PassthroughSpec,
  L3VNISpec,
  LocalCIDR,
  RawFRRConfigSpec,
  RoutingObject,
  UnderlaySpec,
} from './types.js';

function canonicalIp(s: string): string {
  const p = parseIp(s);
  return formatIp(p.family, p.value);
}

const notSupported = (field: string): FieldProblem => ({ field, message: `not supported yet: ${field}` });

function nodeSelectorRules(spec: { nodeSelector?: unknown }): FieldProblem[] {
  return selectorProblems(spec.nodeSelector as never).map((p) => ({
    field: `spec.nodeSelector.${p.field}`,
    message: p.message,
  }));
}

function firstDuplicate<T>(values: T[]): { value: T; index: number } | undefined {
  const seen = new Set<T>();
  for (const [index, value] of values.entries()) {
    if (seen.has(value)) return { value, index };
    seen.add(value);
  }
  return undefined;
}

function underlayRules(name: string, spec: UnderlaySpec): FieldProblem[] {
  const out: FieldProblem[] = [];
  spec.interfaces.forEach((iface, i) => {
    if (iface.type === 'CNIDevice') out.push(notSupported(`spec.interfaces[${i}].cniDevice`));
  });
  for (const f of ['isis', 'srv6', 'routeReflector'] as const) {
    if (spec[f] !== undefined) out.push(notSupported(`spec.${f}`));
  }
  spec.neighbors.forEach((n, i) => {
    if (n.listenRange !== undefined) out.push(notSupported(`spec.neighbors[${i}].listenRange`));
    if (n.interface !== undefined) out.push(notSupported(`spec.neighbors[${i}].interface`));
    n.addressFamilies?.forEach((af, j) => {
      if (af.type === 'ipv4vpn' || af.type === 'ipv6vpn') {
        out.push(notSupported(`spec.neighbors[${i}].addressFamilies[${j}].type`));
      }
      af.properties?.forEach((_p, k) => {
        out.push(notSupported(`spec.neighbors[${i}].addressFamilies[${j}].properties[${k}]`));
      });
    });
    if (n.password !== undefined && n.passwordSecret !== undefined) {
      out.push({
        field: `spec.neighbors[${i}]`,
        message: 'password and passwordSecret cannot be set together',
      });
    }
  });

  const seenAddresses = new Set<string>();
  spec.neighbors.forEach((n, i) => {
    if (n.address === undefined || !isIp(n.address)) return;
    const canonical = canonicalIp(n.address);
    if (seenAddresses.has(canonical)) {
      out.push({
        field: `spec.neighbors[${i}].address`,
        message: `underlay ${name} has duplicate neighbor address: duplicate entry ${n.address}`,
      });
    }
    seenAddresses.add(canonical);
  });
  const ifaceNames = spec.interfaces.map(
    (i) => i.networkDevice?.interfaceName ?? i.cniDevice?.interfaceName ?? 'net1',
  );
  const dupIface = firstDuplicate(ifaceNames);
  if (dupIface) {
    out.push({
      field: `spec.interfaces[${dupIface.index}]`,
      message: `underlay ${name} has invalid interfaces: duplicate underlay interface name ${dupIface.value}`,
    });
  }
  if (spec.routerIDCIDR !== undefined) {
    if (!isCidr(spec.routerIDCIDR) || parseCidr(spec.routerIDCIDR).family !== 4) {
      out.push({
        field: 'spec.routerIDCIDR',
        message: `invalid router id pool ${JSON.stringify(spec.routerIDCIDR)}: must be an IPv4 CIDR`,
      });
    }
  }
  return out;
}

function localCidrRules(local: LocalCIDR, field: string, owner: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const family of ['ipv4', 'ipv6'] as const) {
    const value = local[family];
    if (value === undefined) continue;
    const want = family === 'ipv4' ? 4 : 6;
    if (!isCidr(value)) {
      out.push({
        field: `${field}.${family}`,
        message: `invalid local CIDR ${value} for ${owner}: not a valid CIDR`,
      });
    } else if (parseCidr(value).family !== want) {
      out.push({
        field: `${field}.${family}`,
        message: `invalid local CIDR ${value} for ${owner}: not an IPv${want} CIDR`,
      });
    }
  }
  return out;
}

function l3vniRules(name: string, spec: L3VNISpec): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const list of ['importRTs', 'exportRTs'] as const) {
    spec[list]?.forEach((rt, i) => {
      const problem = routeTargetProblem(rt);
      if (problem)
        out.push({
          field: `spec.${list}[${i}]`,
          message: `invalid route targets for vni ${JSON.stringify(name)}: ${problem}`,
        });
    });
  }
  if (spec.hostSession)
    out.push(...localCidrRules(spec.hostSession.localCIDR, 'spec.hostSession.localCIDR', `vni ${name}`));
  return out;
}

function l2vniRules(name: string, spec: L2VNISpec): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (spec.hostMaster?.type === 'OVSBridge') out.push(notSupported('spec.hostMaster.ovsBridge'));
  if (spec.routingDomain?.type === 'L3VPN') out.push(notSupported('spec.routingDomain.l3vpn'));
  const gws = spec.gatewayIPs ?? [];
  const bad = gws.find((g) => !isCidr(g));
  const shown = `[${gws.join(' ')}]`;
  if (bad !== undefined) {
    out.push({
      field: 'spec.gatewayIPs',
      message: `invalid gatewayIPs for vni ${JSON.stringify(name)} = ${shown}: ${bad} is not a valid IP/prefix`,
    });
  } else if (gws.length === 2 && parseCidr(gws[0]!).family === parseCidr(gws[1]!).family) {
    out.push({
      field: 'spec.gatewayIPs',
      message: `invalid gatewayIPs for vni ${JSON.stringify(name)} = ${shown}: two gateway IPs must be one IPv4 and one IPv6`,
    });
  }
  return out;
}

function passthroughRules(name: string, spec: L3PassthroughSpec): FieldProblem[] {
  return localCidrRules(spec.hostSession.localCIDR, 'spec.hostSession.localCIDR', `l3passthrough ${name}`);
}

function rawRules(spec: RawFRRConfigSpec): FieldProblem[] {
  return spec.rawConfig.trim() === ''
    ? [{ field: 'spec.rawConfig', message: 'rawConfig must not be empty' }]
    : [];
}

/** Problems of one schema-valid, defaulted object. */
export function objectRules(o: RoutingObject): FieldProblem[] {
  const name = o.metadata.name;
  const out = nodeSelectorRules(o.spec);
  switch (o.kind) {
    case 'Underlay':
      return [...out, ...underlayRules(name, o.spec)];
    case 'L3VNI':
      return [...out, ...l3vniRules(name, o.spec)];
    case 'L2VNI':
      return [...out, ...l2vniRules(name, o.spec)];
    case 'L3Passthrough':
      return [...out, ...passthroughRules(name, o.spec)];
    case 'L3VPN':
      return [...out, { field: '', message: 'not supported yet: kind L3VPN' }];
    case 'RawFRRConfig':
      return [...out, ...rawRules(o.spec)];
  }
}

/** True when two local CIDR pools of the same family overlap (both must parse). */
export function poolsOverlap(a: string, b: string): boolean {
  return cidrsOverlap(parseCidr(a), parseCidr(b));
}

/**
 * Immutability that the CEL transition rules cannot see (upstream enforces these in its webhook on
 * UPDATE): an L3VNI cannot gain or lose its hostSession (W14), an L2VNI cannot gain or lose gateway
 * IPs (W15), an underlay interface keeps its type while it keeps its name (W10).
 */
export function updateRules(old: RoutingObject, o: RoutingObject): FieldProblem[] {
  if (old.kind !== o.kind)
    return [{ field: 'kind', message: `kind cannot change from ${old.kind} to ${o.kind}` }];
  switch (o.kind) {
    case 'L3VNI':
    case 'L3VPN': {
      const before = (old.spec as { hostSession?: unknown }).hostSession !== undefined;
      const after = o.spec.hostSession !== undefined;
      return before === after
        ? []
        : [{ field: 'spec.hostSession.localCIDR', message: 'LocalCIDR cannot be changed' }];
    }
    case 'L2VNI': {
      const before = (old.spec as { gatewayIPs?: string[] }).gatewayIPs ?? [];
      const after = o.spec.gatewayIPs ?? [];
      return JSON.stringify(before) === JSON.stringify(after)
        ? []
        : [{ field: 'spec.gatewayIPs', message: 'GatewayIPs cannot be changed' }];
    }
    case 'Underlay': {
      const typeByName = new Map(
        (old.spec as UnderlaySpec).interfaces.map((i) => [
          i.networkDevice?.interfaceName ?? i.cniDevice?.interfaceName ?? 'net1',
          i.type,
        ]),
      );
      const out: FieldProblem[] = [];
      o.spec.interfaces.forEach((i, n) => {
        const name = i.networkDevice?.interfaceName ?? i.cniDevice?.interfaceName ?? 'net1';
        const was = typeByName.get(name);
        if (was !== undefined && was !== i.type) {
          out.push({
            field: `spec.interfaces[${n}].type`,
            message: `type of interface ${JSON.stringify(name)} is immutable (${was} to ${i.type}), delete and recreate the Underlay to change it`,
          });
        }
      });
      return out;
    }
    default:
      return [];
  }
}
