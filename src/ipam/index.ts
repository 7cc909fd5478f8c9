// Per-node address allocation, computed exactly as upstream does so that a node keeps the same addresses
// whichever implementation renders its configuration. Every function is pure: the node index (from the
// node's `openpe.io/nodeindex` annotation) and the pools fully determine the result.
import { type Cidr, cidrSize, IpError, type IpFamily, nthAddress, parseCidr } from './ip.js';

export * from './ip.js';

export class IpamError extends Error {
  override name = 'IpamError';
}

export interface FamilyAddresses<T> {
  ipv4?: T;
  ipv6?: T;
}

/** The two ends of a host-session veth, each as `address/prefixLength` of its pool. */
export interface VethPair {
  /** PE side (in the router namespace); identical on every node. */
  router: string;
  /** Host side; unique per node, and the address the router peers with. */
  host: string;
}

/** A pool as parsed, remembering what the user wrote so messages can quote it. */
interface Pool {
  readonly cidr: Cidr;
  /** e.g. "router-ID pool", "veth IPv4 pool". */
  readonly kind: string;
  readonly input: string;
}

function prefix(what: string | undefined): string {
  return what === undefined || what === '' ? '' : `${what}: `;
}

function poolText(pool: Pool): string {
  return pool.input === pool.cidr.text ? pool.cidr.text : `${pool.cidr.text} (written "${pool.input}")`;
}

function checkIndex(index: number, what: string | undefined): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new IpamError(`${prefix(what)}node index ${index} is invalid: it must be an integer >= 0`);
  }
}

function parsePool(input: string, kind: string, what: string | undefined): Pool {
  try {
    return { cidr: parseCidr(input), kind, input };
  } catch (err) {
    if (!(err instanceof IpError)) throw err;
    throw new IpamError(`${prefix(what)}invalid ${kind}: ${err.message}`, { cause: err });
  }
}

function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

/** Address #n of the pool, or an IpamError saying which node needed which address for what. */
function allocate(pool: Pool, n: bigint, index: number, role: string, what: string | undefined): string {
  const size = cidrSize(pool.cidr);
  if (n >= size) {
    const count = size === 1n ? '1 address (#0)' : `${size} addresses (#0..#${size - 1n})`;
    throw new IpamError(
      `${prefix(what)}node index ${index} needs address #${n} of ${pool.kind} ${poolText(pool)} (${role}), ` +
        `but the pool only has ${count}: use a larger pool`,
    );
  }
  return nthAddress(pool.cidr, n);
}

/** BGP router ID of node `index`: address #(index+1) of the pool, so index 0 gets `.1`. */
export function routerId(routerIdCidr: string, index: number, what?: string): string {
  checkIndex(index, what);
  const pool = parsePool(routerIdCidr, 'router-ID pool', what);
  if (pool.cidr.family !== 4) {
    throw new IpamError(
      `${prefix(what)}${pool.kind} ${poolText(pool)} is IPv6, but BGP router IDs are IPv4: use an IPv4 CIDR such as 10.0.0.0/24`,
    );
  }
  return allocate(pool, BigInt(index) + 1n, index, 'router ID', what);
}

/**
 * VTEP address of node `index` in each pool (at most one pool per family): address #index, so index 0
 * gets the network address itself. Upstream does this and nodes already carry those addresses, so keep it.
 */
export function tunnelEndpoints(
  cidrs: readonly string[],
  index: number,
  what?: string,
): FamilyAddresses<string> {
  checkIndex(index, what);
  const byFamily = new Map<IpFamily, Pool>();
  for (const input of cidrs) {
    const pool = parsePool(input, 'tunnel endpoint pool', what);
    const other = byFamily.get(pool.cidr.family);
    if (other !== undefined) {
      throw new IpamError(
        `${prefix(what)}tunnel endpoint pools ${poolText(other)} and ${poolText(pool)} are both ` +
          `${familyName(pool.cidr.family)}: at most one pool per address family is allowed`,
      );
    }
    byFamily.set(pool.cidr.family, pool);
  }
  const result: FamilyAddresses<string> = {};
  for (const [family, pool] of byFamily) {
    const address = allocate(pool, BigInt(index), index, 'tunnel endpoint', what);
    if (family === 4) result.ipv4 = address;
    else result.ipv6 = address;
  }
  return result;
}

function vethPair(pool: Pool, index: number, what: string | undefined): VethPair {
  const { network, prefixLength } = pool.cidr;
  // Upstream tests the last byte of the first address, not "is it the network address": a pool such as
  // 172.30.0.4/30 therefore puts the router on its network address. Kept so existing nodes keep their addresses.
  const routerOffset = (network & 0xffn) === 0n ? 1n : 0n;
  const router = allocate(pool, routerOffset, index, 'veth router side', what);
  const host = allocate(pool, routerOffset + 1n + BigInt(index), index, 'veth host side', what);
  return { router: `${router}/${prefixLength}`, host: `${host}/${prefixLength}` };
}

/**
 * Both ends of the host-session veth of node `index`, per family present in `localCidr`.
 * An empty string means the family is not configured, as in the API.
 */
export function vethAddresses(
  localCidr: FamilyAddresses<string>,
  index: number,
  what?: string,
): FamilyAddresses<VethPair> {
  checkIndex(index, what);
  const result: FamilyAddresses<VethPair> = {};
  for (const family of [4, 6] as const) {
    const input = family === 4 ? localCidr.ipv4 : localCidr.ipv6;
    if (input === undefined || input === '') continue;
    const field = family === 4 ? 'ipv4' : 'ipv6';
    const pool = parsePool(input, `veth ${familyName(family)} pool`, what);
    if (pool.cidr.family !== family) {
      throw new IpamError(
        `${prefix(what)}localCIDR.${field} ${poolText(pool)} is an ${familyName(pool.cidr.family)} CIDR: ` +
          `put it under localCIDR.ipv${pool.cidr.family}`,
      );
    }
    result[field] = vethPair(pool, index, what);
  }
  return result;
}

const MAX_VNI = 0xffffffff;

/**
 * Fixed MAC of the L2 gateway bridge: 00:f3 then the big-endian bytes of (vni+1) as uint32, so every node
 * answers for the anycast gateway with the same MAC. vni 4294967295 wraps to 00:f3:00:00:00:00, as upstream.
 */
export function gatewayMac(vni: number, what?: string): string {
  if (!Number.isSafeInteger(vni) || vni < 0 || vni > MAX_VNI) {
    throw new IpamError(`${prefix(what)}VNI ${vni} is invalid: it must be an integer from 0 to ${MAX_VNI}`);
  }
  const suffix = (vni + 1) >>> 0;
  const bytes = [0x00, 0xf3, suffix >>> 24, (suffix >>> 16) & 0xff, (suffix >>> 8) & 0xff, suffix & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
