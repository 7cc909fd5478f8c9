// IP and CIDR arithmetic on BigInt values, with parsing as strict as Go's net.ParseIP / net.ParseCIDR
// (the upstream implementation is Go, so inputs it rejects must be rejected here too).
//
// IPv4-mapped IPv6 (`::ffff:1.2.3.4`): always family 6, never folded into IPv4 (Go's To4() would fold it;
// we do not, so a pool's family is what its text looks like). Formatting follows RFC 5952, including its
// §5 recommendation of mixed notation for the mapped range: the value prints as `::ffff:1.2.3.4`, the same
// text glibc's inet_ntop (and so iproute2) and Go's netip print. Any other IPv6 value prints in pure hex.
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

export interface Cidr {
  readonly family: IpFamily;
  /** The network address: the input with its host bits cleared. */
  readonly network: bigint;
  readonly prefixLength: number;
  /** Canonical `network/prefixLength`. */
  readonly text: string;
}

export interface Ip {
  readonly family: IpFamily;
  readonly value: bigint;
}

export class IpError extends Error {
  override name = 'IpError';
}

const IPV4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
// Go rejects leading zeros (they were once read as octal) and every shorthand form ipaddr.js would accept.
const IPV4_STRICT = new RegExp(`^${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}$`);

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function parseIpv4(s: string): bigint | undefined {
  if (!IPV4_STRICT.test(s)) return undefined;
  return ipaddr.IPv4.parse(s).octets.reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}

function parseIpv6(s: string): bigint | undefined {
  // Zones (`fe80::1%eth0`) are not addresses for our purposes; Go's ParseIP rejects them as well.
  if (s.includes('%')) return undefined;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    // Rewrite a dotted tail as two hex groups ourselves: ipaddr.js accepts octal/hex dotted parts and turns
    // `::1.2.3.4` into `::ffff:1.2.3.4`, neither of which Go does.
    const v4 = parseIpv4(tail);
    if (v4 === undefined) return undefined;
    text = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  return ipaddr.IPv6.parse(text).parts.reduce((acc, part) => (acc << 16n) | BigInt(part), 0n);
}

function tryParseIp(s: string): Ip | undefined {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  if (!s.includes(':')) return undefined;
  const v6 = parseIpv6(s);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

export function parseIp(s: string): Ip {
  const ip = tryParseIp(s);
  if (ip === undefined) throw new IpError(`${JSON.stringify(s)} is not a valid IP address`);
  return ip;
}

export function isIp(s: string): boolean {
  return tryParseIp(s) !== undefined;
}

function hostMask(family: IpFamily, prefixLength: number): bigint {
  return (1n << BigInt(familyBits(family) - prefixLength)) - 1n;
}

function invalidCidr(s: string, reason: string): IpError {
  return new IpError(`${JSON.stringify(s)} is not a valid CIDR: ${reason}`);
}

export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw invalidCidr(s, 'missing "/prefix-length" (expected e.g. 10.0.0.0/24)');
  const addressText = s.slice(0, slash);
  const ip = tryParseIp(addressText);
  if (ip === undefined) throw invalidCidr(s, `${JSON.stringify(addressText)} is not an IP address`);
  const { family, value } = ip;
  const bits = familyBits(family);
  const lengthText = s.slice(slash + 1);
  // Like Go: decimal digits only (no sign, no spaces), leading zeros tolerated.
  const prefixLength = /^\d+$/.test(lengthText) ? Number(lengthText) : Number.NaN;
  if (!(prefixLength <= bits)) throw invalidCidr(s, `prefix length must be an integer from 0 to ${bits}`);
  const network = value & ~hostMask(family, prefixLength);
  return { family, network, prefixLength, text: `${formatIp(family, network)}/${prefixLength}` };
}

export function isCidr(s: string): boolean {
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}

/** Family of an address or of a CIDR (text containing `/`). */
export function ipFamily(s: string): IpFamily {
  return s.includes('/') ? parseCidr(s).family : parseIp(s).family;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
}

export function formatIp(family: IpFamily, value: bigint): string {
  if (value < 0n || value >> BigInt(familyBits(family)) !== 0n) {
    throw new IpError(`${value} is not an IPv${family} address value`);
  }
  if (family === 4) return formatIpv4(value);
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((value >> shift) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/** Number of addresses in the prefix, network and broadcast included. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefixLength);
}

/** The n-th address of the prefix, 0 being the network address itself. */
export function nthAddress(cidr: Cidr, n: bigint | number): string {
  if (typeof n === 'number' && !Number.isSafeInteger(n)) {
    throw new IpError(`address number ${n} is not an integer`);
  }
  const offset = BigInt(n);
  const size = cidrSize(cidr);
  if (offset < 0n || offset >= size) {
    throw new IpError(
      `address #${offset} is outside ${cidr.text}, which has ${size} addresses (#0..#${size - 1n})`,
    );
  }
  return formatIp(cidr.family, cidr.network + offset);
}

function containsValue(c: Cidr, family: IpFamily, value: bigint): boolean {
  return family === c.family && (value & ~hostMask(c.family, c.prefixLength)) === c.network;
}

/** Throws IpError when `ip` is not an address; an address of the other family is simply not contained. */
export function cidrContainsIp(c: Cidr, ip: string): boolean {
  const { family, value } = parseIp(ip);
  return containsValue(c, family, value);
}

/** Prefixes either nest or are disjoint, so overlap means one contains the other's network address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return containsValue(a, b.family, b.network) || containsValue(b, a.family, a.network);
}

/**
 * The CIDRs added so far, answering "which one, first in insertion order, overlaps this CIDR?" in time
 * proportional to the prefix length instead of the number of CIDRs (the per-node rules check every
 * host-session pool against all earlier ones: quadratic at a thousand VNIs otherwise). Since prefixes
 * nest or are disjoint, an added CIDR overlaps `c` iff it contains `c` (it is one of `c`'s ancestors,
 * itself included) or `c` contains it (`c` is one of its ancestors).
 */
export class CidrOverlapIndex<T> {
  /** Each added CIDR's own key → its first insertion. */
  private readonly exact = new Map<string, { order: number; value: T }>();
  /** The key of every ancestor (itself included) of an added CIDR → the first insertion below it. */
  private readonly below = new Map<string, { order: number; value: T }>();
  private count = 0;

  private static key(family: IpFamily, network: bigint, prefixLength: number): string {
    return `${family}/${prefixLength}/${network.toString(16)}`;
  }

  private static ancestor(c: Cidr, prefixLength: number): string {
    return CidrOverlapIndex.key(c.family, c.network & ~hostMask(c.family, prefixLength), prefixLength);
  }

  add(c: Cidr, value: T): void {
    const entry = { order: this.count++, value };
    const own = CidrOverlapIndex.key(c.family, c.network, c.prefixLength);
    if (!this.exact.has(own)) this.exact.set(own, entry);
    for (let len = 0; len <= c.prefixLength; len++) {
      const k = CidrOverlapIndex.ancestor(c, len);
      if (!this.below.has(k)) this.below.set(k, entry);
    }
  }

  /** The value of the earliest added CIDR that overlaps `c`, or undefined. */
  firstOverlap(c: Cidr): T | undefined {
    let best = this.below.get(CidrOverlapIndex.key(c.family, c.network, c.prefixLength));
    for (let len = 0; len <= c.prefixLength; len++) {
      const hit = this.exact.get(CidrOverlapIndex.ancestor(c, len));
      if (hit !== undefined && (best === undefined || hit.order < best.order)) best = hit;
    }
    return best?.value;
  }
}
